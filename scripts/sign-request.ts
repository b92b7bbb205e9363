// Prints curl arguments that sign one request as a merchant (docs/security.md), e.g.
//   body='{"amount": 4500}'
//   curl -si localhost:8787/v1/payments -H content-type:application/json \
//        $(npm run -s sign -- POST /v1/payments "$body") -d "$body"
// Merchant and secret come from PAYPATH_MERCHANT_ID / PAYPATH_MERCHANT_SECRET, else the demo's.
// Header values carry no spaces, so the shell's word splitting keeps each `-H name:value` whole.
import { DEMO_MERCHANT_ID, DEMO_MERCHANT_SECRET } from '../src/demo/demo-merchant.ts';
import { signedHeaders } from '../src/http/middleware/merchant-auth/signature.ts';

const [method, target, body = ''] = process.argv.slice(2);
if (!method || !target?.startsWith('/')) {
  console.error('usage: npm run -s sign -- METHOD /path[?query] [BODY]');
  process.exit(2);
}
const merchant = process.env.PAYPATH_MERCHANT_ID ?? DEMO_MERCHANT_ID;
const secret = process.env.PAYPATH_MERCHANT_SECRET ?? DEMO_MERCHANT_SECRET;
const headers = await signedHeaders(merchant, secret, {
  method,
  target,
  body: body === '' ? null : body,
});
console.log(
  Object.entries(headers)
    .map(([name, value]) => `-H ${name}:${value}`)
    .join(' '),
);
