#!/bin/sh
# An exec credential plugin for the rb.k8s tests: answers an ExecCredential
# of the apiVersion it is asked for (KUBERNETES_EXEC_INFO) with the bearer
# token read from $LAB_TOKEN_FILE, or, when $PLUGIN_CERT_DIR is set, with
# the client certificate and key found there (client.crt, client.key).
# Counts its runs in $PLUGIN_COUNT_FILE and saves what it was given in
# $PLUGIN_INFO_FILE (both optional). PLUGIN_EXPIRES: an RFC 3339
# expirationTimestamp to report (optional).
set -eu
api=$(printf '%s' "${KUBERNETES_EXEC_INFO:-}" | sed -n 's/.*"apiVersion":"\([^"]*\)".*/\1/p')
[ -n "$api" ] || { echo "exec-plugin: no KUBERNETES_EXEC_INFO" >&2; exit 1; }
[ -n "${PLUGIN_COUNT_FILE:-}" ] && echo run >>"$PLUGIN_COUNT_FILE"
[ -n "${PLUGIN_INFO_FILE:-}" ] && printf '%s\n' "$KUBERNETES_EXEC_INFO" >"$PLUGIN_INFO_FILE"
exp=""
[ -n "${PLUGIN_EXPIRES:-}" ] && exp=",\"expirationTimestamp\":\"$PLUGIN_EXPIRES\""
# pem FILE: the file as a JSON string body (newlines as \n)
pem() { awk '{ printf "%s\\n", $0 }' "$1"; }
if [ -n "${PLUGIN_CERT_DIR:-}" ]; then
    status="\"clientCertificateData\":\"$(pem "$PLUGIN_CERT_DIR/client.crt")\",\"clientKeyData\":\"$(pem "$PLUGIN_CERT_DIR/client.key")\""
else
    status="\"token\":\"$(cat "$LAB_TOKEN_FILE")\""
fi
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{%s%s}}\n' "$api" "$status" "$exp"
