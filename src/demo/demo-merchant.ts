/**
 * The demo's one merchant. Its secret is public on purpose (it is in this repository): it only
 * opens the demo gateway on loopback. Real deployments load keys from a 0600 file or the
 * environment (docs/security.md).
 */
export const DEMO_MERCHANT_ID = 'demo-shop';
export const DEMO_MERCHANT_SECRET = 'demo-only-secret-do-not-use-in-production';
