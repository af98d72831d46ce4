"""localcloud: an AWS-compatible endpoint (moto) with real compute for SageMaker resources."""

__version__ = "0.1.0"
