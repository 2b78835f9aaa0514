/**
 * The webhook's bearer token: where it comes from (a value, or a mounted Secret file that is read
 * again when it changes, so rotating the Secret needs no restart) and how a presented one is
 * compared (in constant time). Alertmanager sends it as `Authorization: Bearer <token>` from its
 * `http_config.authorization.credentials` (or `credentials_file`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';

/** The current token; undefined when there is none (then every request is refused). */
export type TokenSource = () => string | undefined;

export function staticToken(value: string): TokenSource {
  const token = value.trim();
  return () => (token === '' ? undefined : token);
}

export interface TokenFileSystem {
  statSync(file: string): { mtimeMs: number; ino: number; size: number };
  readFileSync(file: string, encoding: 'utf8'): string;
}

/**
 * The token in `file`, read again whenever its inode, size or mtime changes (a kubelet updates a
 * Secret volume by swapping a symlink, which changes the inode). An unreadable or empty file is
 * no token: the webhook fails closed rather than keeping a token that may have been revoked.
 */
export function fileToken(file: string, fsys: TokenFileSystem = fs): TokenSource {
  let seen: string | undefined;
  let token: string | undefined;
  return () => {
    try {
      const st = fsys.statSync(file);
      const id = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (id !== seen) {
        const value = fsys.readFileSync(file, 'utf8').trim();
        token = value === '' ? undefined : value;
        seen = id;
      }
      return token;
    } catch {
      seen = undefined;
      token = undefined;
      return undefined;
    }
  };
}

/** Whether `presented` is `expected`, in time that depends on neither (both hashed first). */
export function tokenMatches(presented: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header; undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return m ? m[1] : undefined;
}
