/**
 * The typed front of the native engine. Loads the compiled addon (built by `npm run build:native`)
 * and validates arguments before they reach C++.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

// The addon lives in native/build/Release whether this file runs from the sources (ts-jest)
// or from dist/native (the built packages and the image).
const ADDON_CANDIDATES = [
  join(__dirname, 'build', 'Release', 'rewind_native.node'),
  join(__dirname, '..', '..', 'native', 'build', 'Release', 'rewind_native.node'),
];

interface NativeBinding {
  version(): string;
  buildDescription(): string;
}

let binding: NativeBinding | undefined;

function load(): NativeBinding {
  if (!binding) {
    const path = ADDON_CANDIDATES.find((p) => existsSync(p)) ?? (ADDON_CANDIDATES[0] as string);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      binding = require(path) as NativeBinding;
    } catch (e) {
      throw new Error(
        `the native addon is not built (${path}): run \`npm run build:native\` ` +
          `(${(e as Error).message})`,
      );
    }
  }
  return binding;
}

/** The native engine's version, e.g. "0.1.0". */
export function nativeVersion(): string {
  return load().version();
}

/** Version, compiler and C++ standard of the loaded addon. */
export function nativeBuildDescription(): string {
  return load().buildDescription();
}
