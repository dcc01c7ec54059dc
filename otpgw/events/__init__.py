"""What otpgw tells the outside world happened: audit records and Prometheus metrics."""
