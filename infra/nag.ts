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
      reason: 'Functions run nodejs22.x deliberately: the runtime the project targets and tests; moving to a newer runtime is its own change.',
    },
    {
      id: 'AwsSolutions-IAM4',
      reason: "AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole are AWS-managed and grant only the function's own log writes and VPC network interfaces.",
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
      id: 'AwsSolutions-SQS3',
      reason: 'The schedules queue is itself a dead-letter queue (EventBridge Scheduler delivers failed invocations to it); it is alarmed on when not empty.',
    },
    {
      id: 'AwsSolutions-RDS3',
      reason: 'Multi-AZ is a stage setting (chores.database.create.multiAz); off by default so small stages do not pay for a standby.',
    },
    {
      id: 'AwsSolutions-RDS11',
      reason: 'The database is in isolated subnets, reachable only from the RDS Proxy security group; a non-default port adds no protection there.',
    },
    {
      id: 'AwsSolutions-SMG4',
      reason: 'No function reads this secret: they authenticate to RDS Proxy with IAM tokens. Only the proxy uses it; rotate it with RDS-managed rotation if policy requires.',
    },
    {
      id: 'CdkNagValidationFailure',
      reason: "The SQS interface endpoint's security group allows the VPC's own CIDR, a token cdk-nag cannot evaluate (rule AwsSolutions-EC23).",
    },
  ]);
}
