// The peer of gantry-auth: express 5 + jose doing the same checks by hand, the fast way (key
// imported once at start): bearer parsing, ES256 pinned, typ at+jwt, iss/aud/exp required, a
// revocation set and a role → permission lookup in memory. Prints `{"port":…,"token":"…"}`.
import express from 'express';
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';

const { publicKey, privateKey } = await generateKeyPair('ES256');
const revoked = new Set<string>();
const rolesOf = new Map<string, readonly string[]>([['bench-user', ['reader']]]);
const grants = new Map<string, ReadonlySet<string>>([['reader', new Set(['notes:read'])]]);

const app = express();
app.set('etag', false);
app.get('/api/v1/secure', async (req, res) => {
  const header = req.headers.authorization;
  if (!header?.startsWith('Bearer ')) return void res.status(401).json({ error: 'unauthenticated' });
  try {
    const { payload } = await jwtVerify(header.slice(7), publicKey, {
      algorithms: ['ES256'],
      issuer: 'http://bench.local',
      audience: 'bench',
      typ: 'at+jwt',
      requiredClaims: ['exp', 'sub', 'jti'],
    });
    if (revoked.has(payload.jti!)) return void res.status(401).json({ error: 'revoked' });
    const allowed = (rolesOf.get(payload.sub!) ?? []).some((role) => grants.get(role)?.has('notes:read'));
    if (!allowed) return void res.status(403).json({ error: 'forbidden' });
    res.json({ subject: payload.sub });
  } catch {
    res.status(401).json({ error: 'unauthenticated' });
  }
});
const token = await new SignJWT({})
  .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
  .setIssuer('http://bench.local')
  .setAudience('bench')
  .setSubject('bench-user')
  .setJti(crypto.randomUUID())
  .setIssuedAt()
  .setExpirationTime('2h')
  .sign(privateKey);
const server = app.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0, token })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
