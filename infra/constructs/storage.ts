import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { StageConfig } from '../config.js';

/** Secure defaults every bucket shares: no public access, TLS only, encrypted, access logged. */
function secureBucket(scope: Construct, id: string, logs: s3.IBucket | undefined, extra: s3.BucketProps = {}): s3.Bucket {
  return new s3.Bucket(scope, id, {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    encryption: s3.BucketEncryption.S3_MANAGED,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: RemovalPolicy.RETAIN,
    ...(logs && { serverAccessLogsBucket: logs, serverAccessLogsPrefix: `${id.toLowerCase()}/` }),
    ...extra,
  });
}

/**
 * The uploads bucket (created or imported) and the results archive. Archived results are read
 * rarely and only to restore, so they move to cheaper storage classes as they age.
 */
export class Storage extends Construct {
  readonly uploads: s3.IBucket;
  readonly archive: s3.Bucket;

  constructor(scope: Construct, id: string, config: StageConfig['uploadsBucket']) {
    super(scope, id);
    const logs = secureBucket(this, 'AccessLogs', undefined, {
      lifecycleRules: [{ expiration: Duration.days(90) }],
    });
    this.uploads = 'create' in config ? secureBucket(this, 'Uploads', logs) : s3.Bucket.fromBucketName(this, 'Uploads', config.import);
    // The archive is the only copy of deleted rows: versioned, so an overwrite or a delete can be undone
    // for 90 days, after which a replaced version goes.
    this.archive = secureBucket(this, 'Archive', logs, {
      versioned: true,
      lifecycleRules: [
        { noncurrentVersionExpiration: Duration.days(90) },
        {
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) },
          ],
        },
      ],
    });
  }
}
