module runbook/tests/lab/k8s

go 1.19
