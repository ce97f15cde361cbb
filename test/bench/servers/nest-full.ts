// The NestJS (express platform) peer of gantry-auth: helmet (Gantry's options), express-rate-limit +
// rate-limit-redis counting per IP in Redis (as Gantry's rate-limit plugin does), a guard checking an
// ES256 bearer with jose (key imported once), the revocation lookup in Redis and a permission from
// the subject's roles, a prom-client duration histogram and one log line (pino, async, /dev/null).
// Prints `{"port":…}` on stdout.
import 'reflect-metadata';
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  ForbiddenException,
  Get,
  Injectable,
  Module,
  Req,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { type CryptoKey, jwtVerify, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import {
  allowed,
  body,
  discardLogger,
  durationHistogram,
  HELMET_OPTIONS,
  PERMISSION,
  RATE_LIMIT,
  redis,
  revoked,
  settings,
  VERIFY_OPTIONS,
  verificationKey,
} from './full-common.js';

const { kid, key } = await verificationKey();
const getKey = (header: JWTHeaderParameters): CryptoKey => {
  if (header.kid !== kid) throw new Error('unknown kid');
  return key;
};
const prefix = settings.prefix();
const client = redis();
const histogram = durationHistogram();
const logger = discardLogger();

type AuthedRequest = Request & { subject?: string };

@Injectable()
class BearerGuard implements CanActivate {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    if (header === undefined || !header.startsWith('Bearer ')) throw new UnauthorizedException();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(header.slice(7), getKey, VERIFY_OPTIONS));
    } catch {
      throw new UnauthorizedException();
    }
    const sub = payload.sub!;
    if (await revoked(client, prefix, sub, payload.fid, payload.iat!)) throw new UnauthorizedException();
    if (!allowed(sub, PERMISSION)) throw new ForbiddenException();
    req.subject = sub;
    return true;
  }
}

@Controller('secure')
class SecureController {
  @Get()
  @UseGuards(BearerGuard)
  read(@Req() req: AuthedRequest): { subject: string } {
    const subject = req.subject!;
    logger.info({ subject }, 'secure read');
    return body(subject);
  }
}

@Module({ controllers: [SecureController], providers: [BearerGuard] })
class AppModule {}

const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: false });
app.set('etag', false);
app.setGlobalPrefix('api/v1');
app.use(helmet(HELMET_OPTIONS));
app.use((_req: Request, res: Response, next: NextFunction) => {
  res.setHeader('cache-control', 'no-store');
  next();
});
app.use((req: Request, res: Response, next: NextFunction) => {
  const start = process.hrtime.bigint();
  res.once('finish', () => {
    const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
    histogram.observe(
      { method: req.method, route, status_code: res.statusCode },
      Number(process.hrtime.bigint() - start) / 1e9,
    );
  });
  next();
});
app.use(
  rateLimit({
    windowMs: RATE_LIMIT.windowMs,
    limit: RATE_LIMIT.limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    store: new RedisStore({
      prefix: `${prefix}rl:`,
      sendCommand: (command: string, ...args: string[]) => client.call(command, ...args) as Promise<RedisReply>,
    }),
  }),
);
await app.listen(settings.port(), '127.0.0.1');
const address = app.getHttpServer().address() as { port: number };
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => {
    client.disconnect();
    process.exit(0);
  });
});
