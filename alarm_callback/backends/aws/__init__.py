"""AWS: DynamoDB store and quarantine, SQS and SNS publishers; shared boto3 clients in `clients`."""
