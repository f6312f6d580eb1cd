"""Function entry points named in serverless.yml (AWS) and deploy/tencent/serverless.yml (SCF).

AWS Lambda:  handler.lambda_handler, handler.sweep_handler, handler.reconcile_handler
Tencent SCF: handler.main_handler,   handler.sweep_handler, handler.reconcile_handler
"""

from alarm_callback.edges.entry import lambda_handler, main_handler, reconcile_handler, sweep_handler

__all__ = ["lambda_handler", "main_handler", "reconcile_handler", "sweep_handler"]
