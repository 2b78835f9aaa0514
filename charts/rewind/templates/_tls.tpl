{{/*
The chart-made TLS material (tls.mode=helm), as JSON: {"agent": <Secret data>, "controller":
<Secret data>}, each with base64 ca.crt, tls.crt and tls.key. The Secrets already in the cluster
when both hold the same CA (upgrade: pods are not rolled needlessly and `kubectl rewind` keeps
trusting the controller), else a new CA and two certificates signed by it.

Computed once per render and kept on the root context: genCA and genSignedCert are random at
each call, and tls.yaml (the Secrets), controller/connection.yaml (the CA `kubectl rewind`
trusts) and the controller Deployment's checksum must all see the same CA. Helm executes every
template of a chart with the same root map, so the first caller fills the cache and the others
read it, whatever order the templates render in.

  {{- $tls := include "rewind.tls.helmData" $ | fromJson }}
*/}}
{{- define "rewind.tls.helmData" -}}
{{- if not (hasKey . "rewindTLSHelmData") }}
{{- $agentSecret := include "rewind.agent.tlsSecretName" . }}
{{- $controllerSecret := include "rewind.controller.tlsSecretName" . }}
{{- $agentName := include "rewind.agent.fullname" . }}
{{- $controllerName := include "rewind.controller.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- $agentOld := lookup "v1" "Secret" $ns $agentSecret }}
{{- $controllerOld := lookup "v1" "Secret" $ns $controllerSecret }}
{{- $data := dict }}
{{- if and $agentOld $controllerOld (index $agentOld.data "ca.crt") (eq (index $agentOld.data "ca.crt") (index $controllerOld.data "ca.crt")) }}
{{- $data = dict "agent" $agentOld.data "controller" $controllerOld.data }}
{{- else }}
{{- $days := int .Values.tls.validityDays }}
{{- $ca := genCA (printf "%s-ca" (include "rewind.fullname" .)) $days }}
{{- $agentCert := genSignedCert $agentName nil (include "rewind.tls.dnsNames" (dict "name" $agentName "ns" $ns) | fromJsonArray) $days $ca }}
{{- $controllerCert := genSignedCert $controllerName nil (include "rewind.tls.dnsNames" (dict "name" $controllerName "ns" $ns) | fromJsonArray) $days $ca }}
{{- $agentData := dict "ca.crt" ($ca.Cert | b64enc) "tls.crt" ($agentCert.Cert | b64enc) "tls.key" ($agentCert.Key | b64enc) }}
{{- $controllerData := dict "ca.crt" ($ca.Cert | b64enc) "tls.crt" ($controllerCert.Cert | b64enc) "tls.key" ($controllerCert.Key | b64enc) }}
{{- $data = dict "agent" $agentData "controller" $controllerData }}
{{- end }}
{{- $_ := set . "rewindTLSHelmData" $data }}
{{- end }}
{{- index . "rewindTLSHelmData" | toJson }}
{{- end }}

{{/*
The DNS names a component's certificate carries, as a JSON array: its Service's name in every
form a client may dial. Call with (dict "name" <component fullname> "ns" <namespace>).
*/}}
{{- define "rewind.tls.dnsNames" -}}
{{- list .name (printf "%s.%s" .name .ns) (printf "%s.%s.svc" .name .ns) (printf "%s.%s.svc.cluster.local" .name .ns) | toJson }}
{{- end }}

{{/*
cert-manager mode: the Secret `kubectl rewind` reads the CA from (its ca.crt). Not the
controller's own Secret, whose tls.key would let any user of the plugin act as the controller
toward the agents; a certificate of its own from the same CA Issuer, which names no component
and may serve no TLS, so its key grants nothing (tls.yaml).
*/}}
{{- define "rewind.kubectl.caSecretName" -}}
{{- printf "%s-kubectl-ca" (include "rewind.fullname" .) }}
{{- end }}
