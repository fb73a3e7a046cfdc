import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { StageConfig } from '../config.js';

/**
 * The VPC the functions and the database proxy live in. Only outbox-deliver runs in subnets with
 * a NAT route; everything else is in isolated subnets and reaches S3 and SQS through VPC
 * endpoints, so a compromised cleanup function has nowhere on the internet to send data.
 */
export class Network extends Construct {
  readonly vpc: ec2.IVpc;
  readonly egressSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  readonly isolatedSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

  constructor(scope: Construct, id: string, config: StageConfig['vpc']) {
    super(scope, id);
    if ('create' in config) {
      const vpc = new ec2.Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways: 1,
        subnetConfiguration: [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: 'egress', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
          { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 },
        ],
        flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } },
      });
      this.vpc = vpc;
    } else {
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: config.vpcId,
        vpcCidrBlock: config.cidrBlock,
        availabilityZones: config.availabilityZones,
        privateSubnetIds: config.privateSubnetIds,
        isolatedSubnetIds: config.isolatedSubnetIds,
        // Without these and the CIDR, CDK cannot add the endpoints below (no synth of an imported VPC did).
        isolatedSubnetRouteTableIds: config.isolatedRouteTableIds,
      });
    }
    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [this.isolatedSubnets] });
    // uploads-notify sends to the dispatch queue from an isolated subnet.
    this.vpc.addInterfaceEndpoint('Sqs', {
      service: ec2.InterfaceVpcEndpointAwsService.SQS,
      subnets: this.isolatedSubnets,
      privateDnsEnabled: true,
    });
  }
}
