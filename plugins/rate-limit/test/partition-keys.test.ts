// The draft-8 RateLimit-Policy header's `pk` is written by the plugin (remembered per key), not by
// express-rate-limit: it must stay the value express-rate-limit itself writes for the same key.
import { expect } from 'chai';
import { rateLimit } from 'express-rate-limit';
import { PartitionKeys } from '../src/rate-limits.js';

/** The pk express-rate-limit 8 writes in RateLimit-Policy for a request counted under `key`. */
async function theirs(key: string): Promise<string> {
  const headers = new Map<string, string>();
  const req = { ip: '203.0.113.7', method: 'GET', url: '/', originalUrl: '/', headers: {} };
  const res = {
    headersSent: false,
    setHeader: (name: string, value: string) => headers.set(name.toLowerCase(), String(value)),
    append: (name: string, value: string) => headers.set(name.toLowerCase(), String(value)),
    getHeader: (name: string) => headers.get(name.toLowerCase()),
    once: () => res,
  };
  const limiter = rateLimit({ standardHeaders: 'draft-8', identifier: 'p', keyGenerator: () => key, validate: false });
  await new Promise<void>((resolve, reject) => {
    void limiter(req as never, res as never, (err?: unknown) => (err ? reject(err) : resolve()));
  });
  const policy = headers.get('ratelimit-policy') ?? '';
  const pk = /pk=:([^:]+):/.exec(policy)?.[1];
  if (pk === undefined) throw new Error(`no pk in ${JSON.stringify(policy)}`);
  return pk;
}

describe('rate-limit: the partition key of RateLimit-Policy', () => {
  it("is express-rate-limit's own, for IPv4, IPv6 subnet and account keys", async () => {
    const keys = new PartitionKeys();
    for (const key of ['203.0.113.7', '2001:db8:1234:5600::/56', 'bWFsbG9yeUBleGFtcGxlLmNvbQ', 'acct:198.51.100.1']) {
      const pk = await theirs(key);
      expect(keys.of(key), key).to.equal(pk);
      expect(keys.of(key), `${key}, remembered`).to.equal(pk);
    }
  });

  it('remembers at most its bound, the oldest key forgotten first, and still answers for it', () => {
    const keys = new PartitionKeys(2);
    const first = keys.of('a');
    keys.of('b');
    keys.of('c');
    const known = (keys as unknown as { known: Map<string, string> }).known;
    expect([...known.keys()]).to.deep.equal(['b', 'c']);
    expect(keys.of('a')).to.equal(first);
    expect([...known.keys()]).to.deep.equal(['c', 'a']);
  });
});
