/** How the ops commands reach a running gateway's HTTP API: address, admin token, and JSON or text output. */

export interface Connection {
  url: string;
  token: string | undefined;
  json: boolean;
  print: (text: string) => void;
}

/** Options every ops command takes. */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export function connection(
  values: { url?: string | undefined; token?: string | undefined; json?: boolean | undefined },
  print: (text: string) => void,
): Connection {
  const url = (values.url ?? process.env.PAYPATH_URL ?? 'http://127.0.0.1:8787').replace(/\/$/, '');
  return {
    url,
    token: values.token ?? process.env.PAYPATH_ADMIN_TOKEN,
    json: values.json ?? false,
    print,
  };
}

/** An error answer from the gateway, printed with its code (and field paths, for policy problems). */
export class GatewayAnswerError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, body: unknown) {
    const error = (
      body as {
        error?: {
          code?: string;
          message?: string;
          issues?: { path: string; message: string; line?: number; column?: number }[];
        };
      }
    ).error;
    const issues = (error?.issues ?? [])
      .map(
        (i) =>
          `\n  ${i.line !== undefined ? `${i.line}:${i.column}: ` : ''}${i.path === '' ? '' : `${i.path}: `}${i.message}`,
      )
      .join('');
    super(
      `${status} ${error?.code ?? 'error'}: ${error?.message ?? JSON.stringify(body)}${issues}`,
    );
    this.status = status;
    this.body = body;
  }
}

/** Calls the gateway; throws GatewayAnswerError for any answer that is not 2xx. */
export async function call(
  conn: Connection,
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string> } = {},
): Promise<{ body: unknown; headers: Headers }> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (conn.token) headers.authorization = `Bearer ${conn.token}`;
  let response: Response;
  try {
    response = await fetch(`${conn.url}${path}`, {
      method,
      headers,
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new Error(
      `cannot reach ${conn.url}: ${String((error as Error).cause ?? (error as Error).message)}`,
      { cause: error },
    );
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON; keep the text
  }
  if (!response.ok) throw new GatewayAnswerError(response.status, body);
  return { body, headers: response.headers };
}
