// Writes policies/schema.json (JSON Schema for editors) from the zod policy schema.
import { writeFileSync } from 'node:fs';
import { policyJsonSchema } from '../src/core/policy/json-schema.ts';

const file = new URL('../policies/schema.json', import.meta.url);
writeFileSync(file, `${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file.pathname}`);
