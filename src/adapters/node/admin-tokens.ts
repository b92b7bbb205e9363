import { readFile, stat } from 'node:fs/promises';
import { parseAdminTokens, type AdminTokenEntry } from '../../http/middleware/admin-auth/index.ts';

/**
 * Admin tokens from PAYPATH_ADMIN_TOKENS (`name:role:token,…`) and/or a secret file
 * (PAYPATH_ADMIN_TOKENS_FILE, same format, one per line). A file that group or others can read
 * is refused: a leaked admin token can point payments elsewhere.
 */
export async function loadAdminTokens(options: {
  spec?: string | undefined;
  file?: string | undefined;
}): Promise<AdminTokenEntry[]> {
  const tokens: AdminTokenEntry[] = [];
  if (options.spec) tokens.push(...parseAdminTokens(options.spec));
  if (options.file) {
    const info = await stat(options.file);
    if ((info.mode & 0o077) !== 0) {
      throw new Error(
        `admin token file ${options.file} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`,
      );
    }
    tokens.push(...parseAdminTokens(await readFile(options.file, 'utf8')));
  }
  const names = new Set<string>();
  for (const token of tokens) {
    if (names.has(token.name)) throw new Error(`admin token name "${token.name}" is defined twice`);
    names.add(token.name);
  }
  return tokens;
}
