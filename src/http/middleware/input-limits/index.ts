import type { MiddlewareHandler } from 'hono';
import { PaypathError } from '../../../core/errors.ts';
import type { AppEnv } from '../../env.ts';
import { bufferedBody } from '../request-body/index.ts';
import { requestRoute } from '../../request-url.ts';

/** Size of the request's headers as they travel: name, ": ", value, CRLF. */
export function headerBytes(headers: Headers): number {
  let total = 0;
  headers.forEach((value, name) => {
    total += name.length + value.length + 4;
  });
  return total;
}

/** Media type of a Content-Type header without parameters, lowercased (`application/json`). */
export function mediaType(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type === '' ? undefined : type;
}

export function isJsonMediaType(type: string | undefined): boolean {
  return (
    type !== undefined &&
    (type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type))
  );
}

/**
 * Deepest nesting of arrays and objects in a JSON text, stopping early once `limit` is passed.
 * It does not validate JSON (the processor does); it only bounds the work anyone parsing it will do.
 */
export function jsonDepthExceeds(body: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (const byte of body) {
    if (inString) {
      if (escaped) escaped = false;
      else if (byte === 0x5c)
        escaped = true; // backslash
      else if (byte === 0x22) inString = false; // quote
      continue;
    }
    if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > limit) return true;
    } else if (byte === 0x5d || byte === 0x7d) depth = Math.max(0, depth - 1);
  }
  return false;
}

/** Before authentication: a single Host, header size for every request, and the route's accepted content types. */
export function headerLimits(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const gateway = c.get('gateway');
    const { limits } = gateway.policy;
    // Two Host headers arrive joined by a comma, which no single Host value has. Which one would a
    // cache, a carrier's proxy or the processor take? RFC 9112 §3.2: answer 400.
    if (c.req.header('host')?.includes(',')) {
      throw new PaypathError(
        'invalid_request',
        400,
        'the request has more than one Host header (RFC 9112 §3.2)',
        { details: { header: 'host' } },
      );
    }
    const size = headerBytes(c.req.raw.headers);
    if (size > limits.maxHeaderBytes) {
      throw new PaypathError(
        'headers_too_large',
        431,
        `request headers (${size} bytes) exceed the limit of ${limits.maxHeaderBytes} bytes`,
        {
          details: { limit: limits.maxHeaderBytes },
        },
      );
    }
    const route = requestRoute(c);
    const type = mediaType(c.req.header('content-type'));
    if (
      route?.contentTypes !== undefined &&
      type !== undefined &&
      !route.contentTypes.includes(type)
    ) {
      throw new PaypathError(
        'unsupported_media_type',
        415,
        `content type ${JSON.stringify(type.slice(0, 100))} is not accepted here (expected ${route.contentTypes.join(', ')})`,
        {
          details: { accepted: route.contentTypes },
        },
      );
    }
    await next();
  };
}

/** After authentication: a body needs a content type the route accepts, and JSON may not nest too deep. */
export function bodyLimits(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const gateway = c.get('gateway');
    const route = requestRoute(c);
    if (route === undefined) return next();
    const type = mediaType(c.req.header('content-type'));
    const checkJson = isJsonMediaType(type);
    if (route.contentTypes === undefined && !checkJson) return next();
    const body = await bufferedBody(c, route.maxBodyBytes);
    if (body === null) return next();
    if (route.contentTypes !== undefined && type === undefined) {
      throw new PaypathError(
        'unsupported_media_type',
        415,
        `a request body needs a content-type header (expected ${route.contentTypes.join(', ')})`,
        {
          details: { accepted: route.contentTypes },
        },
      );
    }
    const { maxJsonDepth } = gateway.policy.limits;
    if (checkJson && jsonDepthExceeds(body, maxJsonDepth)) {
      throw new PaypathError(
        'json_too_deep',
        400,
        `JSON body nests deeper than ${maxJsonDepth} levels`,
        { details: { limit: maxJsonDepth } },
      );
    }
    await next();
  };
}
