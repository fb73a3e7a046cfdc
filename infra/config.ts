import * as z from 'zod';

/**
 * The stage's settings, from CDK context (`cdk.json` or `-c chores='{"…"}'`). Every stateful part is
 * either created or imported; importing an existing RDS database is as first-class as creating one.
 */
const Stage = z.strictObject({
  /** Names every deployed part (see shared/deploy-names.ts). */
  prefix: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,30}$/, 'must be 2 to 31 lower-case letters, digits or "-", starting with a letter')
    .default('chores'),
  vpc: z
    .union([
      z.strictObject({ create: z.literal(true) }),
      z.strictObject({
        vpcId: z.string(),
        /** Its IPv4 CIDR: the SQS interface endpoint admits HTTPS from it. */
        cidrBlock: z.string(),
        availabilityZones: z.array(z.string()).min(1),
        /** Subnets with a NAT route: outbox-deliver only (it POSTs to the internet). */
        privateSubnetIds: z.array(z.string()).min(1),
        /** Subnets without internet: every other function, the proxy. */
        isolatedSubnetIds: z.array(z.string()).min(1),
        /** Their route tables, one per isolated subnet in the same order: the S3 gateway endpoint is added to them. */
        isolatedRouteTableIds: z.array(z.string()).min(1),
      }),
    ])
    .default({ create: true }),
  database: z
    .union([
      z.strictObject({
        create: z.strictObject({
          instanceClass: z.string().default('t4g.micro'),
          multiAz: z.boolean().default(false),
          allocatedStorageGb: z.number().int().min(20).default(20),
          databaseName: z.string().default('app'),
        }),
      }),
      z.strictObject({
        import: z.strictObject({
          instanceIdentifier: z.string(),
          endpoint: z.string(),
          port: z.number().int().default(5432),
          databaseName: z.string(),
          /** Secrets Manager secret with `username` and `password`: RDS Proxy logs in with it. */
          secretArn: z.string().startsWith('arn:'),
          /** The user in that secret; functions authenticate to the proxy as this user. */
          username: z.string(),
          /** The database's security group: the proxy is allowed in on the database port. */
          securityGroupId: z.string(),
        }),
      }),
    ])
    .default({ create: { instanceClass: 't4g.micro', multiAz: false, allocatedStorageGb: 20, databaseName: 'app' } }),
  uploadsBucket: z.union([z.strictObject({ create: z.literal(true) }), z.strictObject({ import: z.string() })]).default({ create: true }),
  alarmEmail: z.email().optional(),
  /** Passed to the functions as their environment (see the README's configuration table). */
  environment: z
    .record(z.string().regex(/^[A-Z][A-Z0-9_]*$/), z.string(), {
      // zod reports a bad key as "Invalid key in record", naming no rule.
      error: (issue) => (issue.code === 'invalid_key' ? 'each key must be a variable name such as RESULTS_RULES' : undefined),
    })
    .default({}),
});

export type StageConfig = z.output<typeof Stage>;

/** A stage that cannot be deployed; its message is one line naming the key to fix. */
export class StageConfigError extends Error {
  override name = 'StageConfigError';
}

/**
 * Validates the `chores` context: an object from `cdk.json`, or the JSON string `-c chores='{…}'`
 * passes on the command line (CLI context always arrives as a string). Errors name the key to fix.
 */
export function stageConfig(context: unknown): StageConfig {
  let value = context ?? {};
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (error) {
      throw new StageConfigError(
        `invalid "chores" CDK context: not JSON (${(error as Error).message}); pass -c chores='{"prefix":"stage2"}'`,
        { cause: error },
      );
    }
  }
  const parsed = Stage.safeParse(value);
  if (!parsed.success) {
    throw new StageConfigError(
      `invalid "chores" CDK context: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
