import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TestRedisServer } from './redis-server.ts';
import { until } from './poll.ts';

const run = promisify(execFile);

/**
 * A Redis Cluster of the test's own: `size` redis-server processes (masters, no replicas) on free
 * loopback ports, each with its cluster config in its own temp dir, joined by
 * `redis-cli --cluster create`. A short node timeout so a killed node is noticed within ~1 s.
 */
export class TestRedisCluster {
  readonly nodes: readonly TestRedisServer[];

  private constructor(nodes: TestRedisServer[]) {
    this.nodes = nodes;
  }

  static async start(size = 3): Promise<TestRedisCluster> {
    const nodes: TestRedisServer[] = [];
    try {
      for (let i = 0; i < size; i++) {
        // The port is only known once picked; the config file name needs no port: each node has its own dir.
        nodes.push(
          await TestRedisServer.start({
            extraArgs: [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              'nodes.conf',
              '--cluster-node-timeout',
              '1000',
            ],
          }),
        );
      }
      const cluster = new TestRedisCluster(nodes);
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...nodes.map((n) => `127.0.0.1:${n.port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { timeout: 20_000 },
      );
      await cluster.waitUntilOk();
      return cluster;
    } catch (error) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw error;
    }
  }

  /** `redis+cluster://` naming every node (a client needs only one that answers). */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  /** The node serving `slot`, as CLUSTER NODES on `via` says. */
  async ownerOf(slot: number, via = this.nodes[0]!): Promise<TestRedisServer> {
    const { stdout } = await run('redis-cli', ['-p', String(via.port), 'cluster', 'nodes'], {
      timeout: 5_000,
    });
    // <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot or range>...
    for (const line of stdout.split('\n')) {
      const fields = line.trim().split(' ');
      const port = Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
      const serves = fields.slice(8).some((range) => {
        const [from, to = from] = range.split('-').map(Number);
        return slot >= from! && slot <= to!;
      });
      const owner = serves ? this.nodes.find((n) => n.port === port) : undefined;
      if (owner) return owner;
    }
    throw new Error(`no node serves slot ${slot}`);
  }

  /** Resolves once every running node reports cluster_state:ok (10 s at most). */
  async waitUntilOk(timeoutMs = 10_000): Promise<void> {
    let states: string[] = [];
    await until(
      'every running cluster node to report cluster_state:ok',
      async () => {
        states = await Promise.all(
          this.nodes.filter((n) => n.running).map((n) => clusterState(n.port)),
        );
        return states.every((s) => s === 'ok');
      },
      { timeoutMs, intervalMs: 100, state: () => states },
    );
  }

  /** Empties every running node (FLUSHALL), so a test does not see what an earlier one stored. */
  async flushAll(): Promise<void> {
    await Promise.all(
      this.nodes
        .filter((n) => n.running)
        .map((n) => run('redis-cli', ['-p', String(n.port), 'flushall'], { timeout: 5_000 })),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

async function clusterState(port: number): Promise<string> {
  try {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info'], {
      timeout: 2_000,
    });
    return /cluster_state:(\w+)/.exec(stdout)?.[1] ?? 'unknown';
  } catch {
    return 'unreachable';
  }
}
