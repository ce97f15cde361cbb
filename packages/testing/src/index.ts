/** @gantry/testing: test kernels, in-process requests and the plugin conformance kit. */
export {
  createTestKernel,
  engineUnderTest,
  isolatedDispatch,
  replacing,
  type Replacement,
  type TestKernel,
  type TestKernelOptions,
} from './test-kernel.js';
export { TestingErrors } from './errors.js';
export { checkConformance, type ConformanceOptions, type ConformanceResult } from './conformance.js';
export type { InjectOptions, Response as InjectResponse } from 'light-my-request';
export { memoryLogger, type LogLine } from './memory-logger.js';
// MailCatcher (a real MailDev) is at '@gantry/testing/maildev': maildev is an optional peer, not every plugin's install.
export { TcpProxy } from './tcp-proxy.js';
export { Browser, findLink, parseForm, throughProvider, type Form, type Page } from './browser.js';
export { permissionStandIn } from './permission-stand-in.js';
