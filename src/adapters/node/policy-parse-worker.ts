// Worker thread entry: parses policy documents posted by WorkerPolicyParser, one at a time.
import { parentPort } from 'node:worker_threads';
import { parsePolicy } from '../../core/policy/parse.ts';

parentPort!.on('message', (message: { id: number; text: string }) => {
  let result;
  try {
    result = parsePolicy(message.text);
  } catch (error) {
    // parsePolicy never throws on input; a bug must still answer, not leave the caller waiting.
    result = { ok: false as const, issues: [{ path: '', message: `internal error while parsing: ${(error as Error).message}` }] };
  }
  parentPort!.postMessage({ id: message.id, result });
});
