{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "rewind.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release name + chart name, unless the release name already contains the chart name.
Components append "-agent", "-node" or "-controller", so the base is kept to 52 characters.
*/}}
{{- define "rewind.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "rewind.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "rewind.labels" -}}
helm.sh/chart: {{ include "rewind.chart" . }}
app.kubernetes.io/name: {{ include "rewind.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: rewind
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "agent"). */}}
{{- define "rewind.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rewind.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component's resources; same argument as rewind.selectorLabels. */}}
{{- define "rewind.componentLabels" -}}
{{ include "rewind.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "rewind.agent.fullname" -}}
{{- printf "%s-agent" (include "rewind.fullname" .) }}
{{- end }}

{{- define "rewind.node.fullname" -}}
{{- printf "%s-node" (include "rewind.fullname" .) }}
{{- end }}

{{/* The node DaemonSet runs when it has a container: the loader, or our device plugin. */}}
{{- define "rewind.node.enabled" -}}
{{- if and .Values.agent.enabled (or .Values.node.loader.enabled (eq .Values.agent.deviceAccess "devicePlugin")) }}true{{ end }}
{{- end }}

{{/* The name the agent requires in the controller's client certificate. */}}
{{- define "rewind.agent.controllerIdentity" -}}
{{- default (include "rewind.controller.fullname" .) .Values.agent.controllerIdentity }}
{{- end }}

{{- define "rewind.controller.fullname" -}}
{{- printf "%s-controller" (include "rewind.fullname" .) }}
{{- end }}

{{- define "rewind.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create }}
{{- default (include "rewind.agent.fullname" .) .Values.agent.serviceAccount.name }}
{{- else }}
{{- required "agent.serviceAccount.name is required when agent.serviceAccount.create is false" .Values.agent.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "rewind.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (include "rewind.controller.fullname" .) .Values.controller.serviceAccount.name }}
{{- else }}
{{- required "controller.serviceAccount.name is required when controller.serviceAccount.create is false" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secrets holding each component's certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "rewind.agent.tlsSecretName" -}}
{{- printf "%s-tls" (include "rewind.agent.fullname" .) }}
{{- end }}

{{- define "rewind.controller.tlsSecretName" -}}
{{- printf "%s-tls" (include "rewind.controller.fullname" .) }}
{{- end }}

{{/* The name the controller verifies in the agents' certificates (it dials pod IPs). */}}
{{- define "rewind.agent.tlsServerName" -}}
{{- printf "%s.%s.svc" (include "rewind.agent.fullname" .) .Release.Namespace }}
{{- end }}

{{/* The name the controller's certificate carries for `kubectl rewind` (tls.yaml's DNS names). */}}
{{- define "rewind.controller.tlsServerName" -}}
{{- printf "%s.%s.svc" (include "rewind.controller.fullname" .) .Release.Namespace }}
{{- end }}

{{/*
A component's pod selector as a label-selector string (`k=v,k=v`, sorted): the same labels as its
workload's selector (rewind.selectorLabels), so the two cannot drift. Same argument as
rewind.selectorLabels.
*/}}
{{- define "rewind.selectorString" -}}
{{- $labels := include "rewind.selectorLabels" . | fromYaml }}
{{- $pairs := list }}
{{- range $k := keys $labels | sortAlpha }}
{{- $pairs = append $pairs (printf "%s=%s" $k (index $labels $k)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/* The agent DaemonSet's pods (REWIND_AGENT_SELECTOR). */}}
{{- define "rewind.agent.selector" -}}
{{- include "rewind.selectorString" (dict "ctx" . "component" "agent") }}
{{- end }}

{{/* The Secret holding the webhook's bearer token: the user's, or the one webhook-secret.yaml makes. */}}
{{- define "rewind.controller.webhookSecretName" -}}
{{- default (printf "%s-webhook" (include "rewind.controller.fullname" .)) .Values.controller.webhook.tokenSecret.name }}
{{- end }}

{{- define "rewind.tracesClaimName" -}}
{{- default (printf "%s-traces" (include "rewind.controller.fullname" .)) .Values.controller.persistence.existingClaim }}
{{- end }}

{{/* registry/repository[:tag][@digest] */}}
{{- define "rewind.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry $repo }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Probe block from a values map; call with (dict "path" "/healthz" "probe" $map), and
"port" to name a port other than "health". */}}
{{- define "rewind.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ default "health" .port }}
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end }}

{{/* Guards against combinations that cannot work; included by every component template. */}}
{{- define "rewind.validate" -}}
{{- if and (not .Values.agent.enabled) (not .Values.controller.enabled) }}
{{- fail "agent.enabled and controller.enabled are both false: nothing to deploy" }}
{{- end }}
{{- $p := .Values.controller.persistence }}
{{- if and .Values.controller.enabled (gt (int .Values.controller.replicas) 1) (or (not $p.enabled) (eq $p.accessMode "ReadWriteOnce") (eq $p.accessMode "ReadWriteOncePod")) }}
{{- fail (printf "controller.replicas=%d needs shared trace storage: set controller.persistence.enabled=true with accessMode ReadWriteMany" (int .Values.controller.replicas)) }}
{{- end }}
{{- if and .Values.controller.enabled (gt (int .Values.controller.replicas) 1) (not .Values.controller.leaderElection) }}
{{- fail (printf "controller.replicas=%d needs controller.leaderElection=true, or every replica collects every snapshot" (int .Values.controller.replicas)) }}
{{- end }}
{{- if and .Values.agent.networkPolicy.enabled .Values.agent.enabled (not .Values.controller.enabled) }}
{{- fail "agent.networkPolicy.enabled admits only this release's controller to the snapshot API port, but controller.enabled is false: disable the NetworkPolicy or enable the controller" }}
{{- end }}
{{- range $component := list "agent" "controller" }}
{{- $v := index $.Values $component }}
{{- if and $v.enabled (ge (int $v.drainSeconds) (int $v.terminationGracePeriodSeconds)) }}
{{- fail (printf "%s.drainSeconds (%d) must be less than %s.terminationGracePeriodSeconds (%d), or the kubelet kills the process mid-drain" $component (int $v.drainSeconds) $component (int $v.terminationGracePeriodSeconds)) }}
{{- end }}
{{- end }}
{{- range $pair := list (list "agent" "healthPort" "apiPort") (list "controller" "healthPort" "apiPort") }}
{{- $v := index $.Values (index $pair 0) }}
{{- if and $v.enabled (eq (int (index $v (index $pair 1))) (int (index $v (index $pair 2)))) }}
{{- fail (printf "%s.%s and %s.%s are both %d: each port needs its own number" (index $pair 0) (index $pair 1) (index $pair 0) (index $pair 2) (int (index $v (index $pair 1)))) }}
{{- end }}
{{- end }}
{{- $node := .Values.node }}
{{- if include "rewind.node.enabled" . }}
{{- if ge (int $node.drainSeconds) (int $node.terminationGracePeriodSeconds) }}
{{- fail (printf "node.drainSeconds (%d) must be less than node.terminationGracePeriodSeconds (%d), or the kubelet kills the process mid-drain" (int $node.drainSeconds) (int $node.terminationGracePeriodSeconds)) }}
{{- end }}
{{- /* The loader and the device plugin share their pod's network namespace. */}}
{{- if and $node.loader.enabled (eq .Values.agent.deviceAccess "devicePlugin") (eq (int $node.loader.healthPort) (int $node.devicePlugin.healthPort)) }}
{{- fail (printf "node.loader.healthPort and node.devicePlugin.healthPort are both %d: the two containers share their pod's network, each needs its own port" (int $node.loader.healthPort)) }}
{{- end }}
{{- end }}
{{- if and .Values.agent.enabled (eq .Values.agent.deviceAccess "external") (eq .Values.agent.devicePlugin.resourceName "rewind.dev/recorder") }}
{{- fail "agent.deviceAccess=external: set agent.devicePlugin.resourceName to the resource your device plugin advertises /dev/rewind as (rewind.dev/recorder is Rewind's own plugin's: use agent.deviceAccess=devicePlugin for it)" }}
{{- end }}
{{- if and .Values.agent.enabled (not .Values.controller.enabled) (not .Values.agent.controllerIdentity) }}
{{- fail "controller.enabled is false: set agent.controllerIdentity to the name in your controller's client certificate, or the agents refuse every snapshot request" }}
{{- end }}
{{- if and $p.existingClaim (not $p.enabled) }}
{{- fail "controller.persistence.existingClaim is set but controller.persistence.enabled is false: enable persistence or drop the claim" }}
{{- end }}
{{- end }}
