// Worker thread entry: analyses policy documents posted by WorkerPolicyAnalyser, one at a time.
import { parentPort } from 'node:worker_threads';
import { analysePolicy, type PolicyAnalysis } from '../../core/admin/policy-analysis.ts';
import type { Policy } from '../../core/policy/schema.ts';

parentPort!.on('message', (message: { id: number; text: string; running: Policy }) => {
  void (async () => {
    let result: PolicyAnalysis;
    try {
      result = await analysePolicy(message.text, message.running);
    } catch (error) {
      // analysePolicy never throws on input; a bug must still answer, not leave the caller waiting.
      result = {
        ok: false,
        issues: [
          {
            path: '',
            message: `internal error while analysing the policy: ${(error as Error).message}`,
          },
        ],
      };
    }
    parentPort!.postMessage({ id: message.id, result });
  })();
});
