/**
 * The one error type of the native engine. The binding turns every C++ exception into a
 * RewindError (native/src/binding/errors.h), so callers branch on `code`, never on the text:
 *
 * - an errno name (`'ENOENT'`, `'EBUSY'`, `'ENODEV'`, `'EPERM'`…) for a failed system call or
 *   ioctl, with `errno` (the C value, positive, as in `os.constants.errno`), `syscall` (`'open'`,
 *   `'REWIND_IOC_CONFIGURE'`…) and `path`;
 * - `'ERR_REWIND_DAMAGED'`: a trace's bytes are corrupt; `path` is the file, `offset` the byte;
 * - `'ERR_REWIND_ABI'`: the module speaks another ABI or wire-format version;
 * - `'ERR_REWIND_INVALID_ARG'`: the core refused a value (a node name, a field value…);
 * - `'ERR_REWIND_NATIVE'`: anything else the core threw.
 *
 * Argument errors found before C++ is called are TypeErrors naming the function and the option.
 */
export class RewindError extends Error {
  declare readonly code: string;
  declare readonly errno?: number;
  declare readonly syscall?: string;
  declare readonly path?: string;
  declare readonly offset?: number;

  constructor(message: string) {
    super(message);
    this.name = 'RewindError';
  }
}
