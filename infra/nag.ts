import type { Stack } from 'aws-cdk-lib';
import { NagSuppressions } from 'cdk-nag';

/**
 * Every cdk-nag AwsSolutions finding this stack accepts, in one place, each with its reason.
 * Anything not listed here fails the nag test (test/infra/stack.test.ts).
 */
export function acknowledgeNagFindings(stack: Stack): void {
  NagSuppressions.addStackSuppressions(stack, [
    {
      id: 'AwsSolutions-L1',
      reason:
        'Functions run nodejs22.x deliberately: the runtime the project targets and tests; moving to a newer runtime is its own change.',
    },
    {
      id: 'AwsSolutions-IAM4',
      reason:
        "AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole are AWS-managed and grant only the function's own log writes and VPC network interfaces.",
      appliesTo: [
        'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
        'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
      ],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'Wildcards are object paths inside one named bucket (cleanup must reach any upload; the archive writes under results/ and tables/), ' +
        'or the versions of one named function that its schedule may invoke (<function ARN>:*).',
      appliesTo: [
        { regex: '/^Resource::<Job[A-Za-z0-9]+\\.Arn>:\\*$/' },
        { regex: '/^Resource::<StorageArchive[A-Za-z0-9]+\\.Arn>\\/(results|tables)\\/\\*$/' },
        { regex: '/^Resource::<StorageUploads[A-Za-z0-9]+\\.Arn>\\/\\*$/' },
      ],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so Lambda grants them on "*". ' +
        'test/infra/stack.test.ts checks that nothing else is granted on "*".',
      appliesTo: ['Resource::*'],
    },
    {
      id: 'AwsSolutions-SQS3',
      reason:
        'The schedules and failed-runs queues are themselves dead-letter queues (Scheduler and Lambda deliver failures to them); each is alarmed on when not empty.',
    },

    {
      id: 'AwsSolutions-RDS3',
      reason: 'Multi-AZ is a stage setting (chores.database.create.multiAz); off by default so small stages do not pay for a standby.',
    },
    {
      id: 'AwsSolutions-RDS11',
      reason:
        'The database is in isolated subnets, reachable only from the RDS Proxy security group; a non-default port adds no protection there.',
    },
    {
      id: 'AwsSolutions-SMG4',
      reason:
        'The database secret: no function reads it (they authenticate to RDS Proxy with IAM tokens); only the proxy does; rotate it with RDS-managed rotation if policy requires. ' +
        'The webhook keys encrypt stored endpoint secrets: rotating them means re-encrypting every secret, an operation of its own, not Secrets Manager rotation.',
    },
    {
      id: 'CdkNagValidationFailure',
      reason:
        "The SQS interface endpoint's security group allows the VPC's own CIDR, a token cdk-nag cannot evaluate (rule AwsSolutions-EC23).",
    },
  ]);
}
