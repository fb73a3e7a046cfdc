// What Powertools Tracer takes from `aws-xray-sdk-core` (the names its ProviderService and Tracer
// read from the SDK's module object), built from the SDK's own modules. The SDK's index
// (dist/lib/aws-xray.js) requires everything at load: the EC2, ECS and Beanstalk plugins, the SDK v2
// patcher (and semver with it), the global http(s) patcher, the SQL and express helpers, all of which
// a Lambda of chores never calls. Without them the Tracer chunk is ~20 KiB smaller and its import
// ~2–4 ms shorter (measured; README, _Benchmarks_). The build aliases `aws-xray-sdk-core` here; the
// paths are relative because an alias would also catch `aws-xray-sdk-core/…`.
//
// Kept as the SDK has them, the very same functions: the context (cls-hooked namespace, segments),
// capture, the daemon address and the logger. The SDK v3 client patcher, which brings the SDK's
// 10 KiB list of AWS parameters to record, is required when a function first wraps an AWS client
// (S3, SQS), as those clients are themselves imported on first use. The names chores never calls
// throw, saying why, rather than silently doing nothing.
const contextUtils = require('../../node_modules/aws-xray-sdk-core/dist/lib/context_utils.js');
const logging = require('../../node_modules/aws-xray-sdk-core/dist/lib/logger.js');
const segmentUtils = require('../../node_modules/aws-xray-sdk-core/dist/lib/segments/segment_utils.js');
const capture = require('../../node_modules/aws-xray-sdk-core/dist/lib/capture.js');
const LambdaEnv = require('../../node_modules/aws-xray-sdk-core/dist/lib/env/aws_lambda.js');
const pkginfo = require('../../node_modules/aws-xray-sdk-core/package.json');

const leftOut = (name) => () => {
  throw new Error(`aws-xray-sdk-core's ${name} is left out of chores' Lambda bundles (infra/shims/xray-core.cjs)`);
};

module.exports = {
  setLogger: logging.setLogger,
  getLogger: logging.getLogger,
  setDaemonAddress: require('../../node_modules/aws-xray-sdk-core/dist/lib/daemon_config.js').setDaemonAddress,
  captureFunc: capture.captureFunc,
  captureAsyncFunc: capture.captureAsyncFunc,
  captureAWSv3Client: (client) => require('../../node_modules/aws-xray-sdk-core/dist/lib/patchers/aws3_p.js').captureAWSClient(client),
  // The Tracer's captureAWS/captureAWSClient (SDK v2) and captureHTTPsRequests, all unused here.
  captureAWS: leftOut('captureAWS'),
  captureAWSClient: leftOut('captureAWSClient'),
  captureHTTPsGlobal: leftOut('captureHTTPsGlobal'),
  getNamespace: contextUtils.getNamespace,
  getSegment: contextUtils.getSegment,
  setSegment: contextUtils.setSegment,
  setContextMissingStrategy: contextUtils.setContextMissingStrategy,
  Segment: require('../../node_modules/aws-xray-sdk-core/dist/lib/segments/segment.js'),
  Subsegment: require('../../node_modules/aws-xray-sdk-core/dist/lib/segments/attributes/subsegment.js'),
};

// What the SDK's index does at load, as it does it: name the SDK and the runtime on every segment,
// and in Lambda take the function's segment (the facade carrying the trace header) as the context.
segmentUtils.setSDKData({ sdk: 'X-Ray for Node.js', sdk_version: pkginfo.version, package: pkginfo.name });
segmentUtils.setServiceData({
  runtime: process.release?.name ?? 'unknown',
  runtime_version: process.version,
  version: process.env.npm_package_version || 'unknown',
  name: process.env.npm_package_name || 'unknown',
});
if (process.env.LAMBDA_TASK_ROOT) LambdaEnv.init();
