import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { StageConfig } from '../config.js';
import type { Network } from './network.js';

// A full version: a bare major (`17`) can no longer create an instance (cfn-lint W3691). Minor
// upgrades still arrive through autoMinorVersionUpgrade.
const ENGINE = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17_9 });
const CREATED_DB_USER = 'chores';

/**
 * Postgres behind RDS Proxy with IAM authentication: functions sign a token with their role and
 * never hold a password; the proxy pools connections so hundreds of concurrent invocations do not
 * exhaust the database. The database is either created (encrypted, backed up, in isolated subnets,
 * credentials in Secrets Manager) or imported from its endpoint, secret and security group.
 */
export class Database extends Construct {
  readonly proxy: rds.DatabaseProxy;
  readonly databaseName: string;
  readonly user: string;
  /** Functions that may connect: the proxy lets them in on the Postgres port. */
  readonly clientSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, network: Network, config: StageConfig['database'], prefix: string) {
    super(scope, id);
    this.clientSecurityGroup = new ec2.SecurityGroup(this, 'Clients', {
      vpc: network.vpc,
      description: 'chores functions (database clients)',
      allowAllOutbound: true,
    });
    const proxySecurityGroup = new ec2.SecurityGroup(this, 'ProxySg', {
      vpc: network.vpc,
      description: 'chores RDS Proxy',
      allowAllOutbound: true,
    });
    proxySecurityGroup.addIngressRule(this.clientSecurityGroup, ec2.Port.tcp(5432), 'chores functions');

    let instance: rds.IDatabaseInstance;
    let secret: secretsmanager.ISecret;
    if ('create' in config) {
      const created = new rds.DatabaseInstance(this, 'Instance', {
        engine: ENGINE,
        instanceType: new ec2.InstanceType(config.create.instanceClass),
        vpc: network.vpc,
        vpcSubnets: network.isolatedSubnets,
        credentials: rds.Credentials.fromGeneratedSecret(CREATED_DB_USER, { secretName: `${prefix}/database` }),
        databaseName: config.create.databaseName,
        allocatedStorage: config.create.allocatedStorageGb,
        storageType: rds.StorageType.GP3,
        storageEncrypted: true,
        multiAz: config.create.multiAz,
        backupRetention: Duration.days(7),
        deletionProtection: true,
        removalPolicy: RemovalPolicy.SNAPSHOT,
        autoMinorVersionUpgrade: true,
        cloudwatchLogsExports: ['postgresql'],
        iamAuthentication: true,
      });
      created.connections.allowDefaultPortFrom(proxySecurityGroup, 'RDS Proxy');
      instance = created;
      secret = created.secret!;
      // The only credentials of the database, which outlives the stack (snapshot on delete): keep them too.
      // `created.secret` is the attachment; the generated secret itself is the instance's child `Secret`.
      (created.node.findChild('Secret') as secretsmanager.Secret).applyRemovalPolicy(RemovalPolicy.RETAIN);
      this.databaseName = config.create.databaseName;
      this.user = CREATED_DB_USER;
    } else {
      const imported = config.import;
      const databaseSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(this, 'ImportedSg', imported.securityGroupId);
      instance = rds.DatabaseInstance.fromDatabaseInstanceAttributes(this, 'Instance', {
        instanceIdentifier: imported.instanceIdentifier,
        instanceEndpointAddress: imported.endpoint,
        port: imported.port,
        securityGroups: [databaseSecurityGroup],
        engine: ENGINE,
      });
      databaseSecurityGroup.addIngressRule(proxySecurityGroup, ec2.Port.tcp(imported.port), 'chores RDS Proxy');
      secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', imported.secretArn);
      this.databaseName = imported.databaseName;
      // The proxy authenticates a client as the user named in the secret it holds.
      this.user = imported.username;
    }
    this.proxy = new rds.DatabaseProxy(this, 'Proxy', {
      dbProxyName: `${prefix}-proxy`,
      proxyTarget: rds.ProxyTarget.fromInstance(instance),
      secrets: [secret],
      vpc: network.vpc,
      vpcSubnets: network.isolatedSubnets,
      securityGroups: [proxySecurityGroup],
      iamAuth: true,
      requireTLS: true,
    });
  }

  /** The environment a function needs to connect, and the permission to. */
  connect(fn: iam.IGrantable): Record<string, string> {
    this.proxy.grantConnect(fn, this.user);
    return {
      DATABASE_IAM_AUTH: 'true',
      DATABASE_HOST: this.proxy.endpoint,
      DATABASE_PORT: '5432',
      DATABASE_NAME: this.databaseName,
      DATABASE_USER: this.user,
    };
  }
}
