/** @gantry/core: the kernel, the plugin contract, DI, config, lifecycle, errors, context, health. */
export { KERNEL_VERSION, packageVersion } from './version.js';
export { IDLE_MEMORY_TICK_MS, keepMemoryReducerAwake } from './idle-memory.js';
export { token, tokenName, type Token, type TokenType } from './token.js';
export {
  GantryError,
  defineErrors,
  registeredErrorCodes,
  withFix,
  type ErrorFactory,
  type ErrorSpec,
  type GantryErrorOptions,
} from './gantry-error.js';
export { CoreErrors } from './errors.js';
export { TsyringeContainer, type Constructor, type Container } from './container.js';
export { createLogger, silentLogger, type Logger, type LoggerFactoryOptions } from './logger.js';
export {
  RequestContext,
  currentContext,
  currentSignal,
  runDetached,
  runWithContext,
  type Principal,
} from './context.js';
export { HealthRegistry, type HealthCheck, type HealthResult, type ReadinessReport } from './health.js';
export { EventBusToken, InProcessEventBus, type BusEvent, type EventBus } from './events.js';
export {
  definePlugin,
  isPlugin,
  pluginMetadataProblems,
  type ConfigChangeDecision,
  type LifecycleHook,
  type Plugin,
  type PluginContext,
  type PluginDefinition,
  type PluginSetup,
  type LoggerProviderInit,
} from './plugin.js';
export {
  applyProfile,
  deepFreeze,
  deepMerge,
  describeIssues,
  envOverrides,
  envSegment,
  findConfigFile,
  mergeEnvOverrides,
  kernelOptionsSchema,
  optionProvenance,
  interpolateEnv,
  readConfigFile,
  type AppConfig,
  type OptionSourceKind,
  type KernelOptions,
  type KernelOptionsInput,
  type OptionLayer,
  type OptionOrigin,
  type OptionProvenance,
  type PluginOptions,
} from './config.js';
export {
  changedPaths,
  type ConfigChangeContext,
  type ConfigChangeRecord,
  type ConfigLayer,
  type ConfigSource,
  type ConfigSourceSetup,
  type Unsubscribe,
} from './config-source.js';
export {
  BUILTIN_TOKENS,
  resolveConfig,
  type ResolveConfigOptions,
  type ResolvedConfig,
  type ResolvedPluginConfig,
} from './setup.js';
export {
  candidatesFor,
  type PluginLoaders,
  type ResolvedPlugin,
  type ResolveResult,
  resolvePlugin,
} from './resolve.js';
export {
  findUnsafeStrings,
  hasUnsafeStrings,
  line,
  LINE_CONTROL,
  text,
  TEXT_CONTROL,
  type TextBounds,
  type UnsafeString,
} from './text.js';
export { closest, didYouMean, OFFICIAL_PLUGINS } from './suggest.js';
export { topoSort, type GraphNode } from './graph.js';
export {
  acceptsCredential,
  HttpTransportToken,
  requiresAuthentication,
  type HttpMethod,
  type RouteGuardKind,
  type RouteHookOptions,
  type HttpMiddleware,
  type HttpRouter,
  type HttpTransport,
  type ResponseInfo,
  type RouteInfo,
  type RouteOptions,
  type RouteReply,
  type RouteHook,
  type RouteRequest,
  type RouteSchema,
} from './transport.js';
export {
  createKernel,
  HealthRegistryToken,
  Kernel,
  KernelInfoToken,
  LoggerToken,
  serializeError,
  type CreateKernelOptions,
  type KernelInfo,
  type TimelineEntry,
} from './kernel.js';
export { appDirOf, formatBootError, runMain } from './main.js';
export { patchSchema, type PatchSchema, type PatchShape } from './patch-schema.js';
