#!/bin/sh
# An exec credential plugin for the rb.k8s tests: answers an ExecCredential
# of the apiVersion it is asked for (KUBERNETES_EXEC_INFO), with the bearer
# token read from $LAB_TOKEN_FILE, and counts its runs in $PLUGIN_COUNT_FILE.
# PLUGIN_EXPIRES: an RFC 3339 expirationTimestamp to report (optional).
set -eu
api=$(printf '%s' "${KUBERNETES_EXEC_INFO:-}" | sed -n 's/.*"apiVersion":"\([^"]*\)".*/\1/p')
[ -n "$api" ] || { echo "exec-plugin: no KUBERNETES_EXEC_INFO" >&2; exit 1; }
[ -n "${PLUGIN_COUNT_FILE:-}" ] && echo run >>"$PLUGIN_COUNT_FILE"
[ -n "${PLUGIN_INFO_FILE:-}" ] && printf '%s\n' "$KUBERNETES_EXEC_INFO" >"$PLUGIN_INFO_FILE"
token=$(cat "$LAB_TOKEN_FILE")
exp=""
[ -n "${PLUGIN_EXPIRES:-}" ] && exp=",\"expirationTimestamp\":\"$PLUGIN_EXPIRES\""
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s"%s}}\n' "$api" "$token" "$exp"
