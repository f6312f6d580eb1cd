"""Tencent Cloud: TDMQ CMQ publishers and the alarm-history client; shared SDK clients in `clients`."""
