{{/* The chart's name, or nameOverride. */}}
{{- define "ensemw2s.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's prefix of every object name: fullnameOverride, else the release name (with the chart's
name appended unless the release name already contains it). `helm install ensemw2s` names the operator
ensemw2s-operator. */}}
{{- define "ensemw2s.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The operator's Deployment, ServiceAccount, ClusterRole and bindings. */}}
{{- define "ensemw2s.operatorName" -}}
{{- printf "%s-operator" (include "ensemw2s.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ensemw2s.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ensemw2s.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: set it when serviceAccount.create is false (the account the operator runs as)" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "ensemw2s.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ensemw2s
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The operator pods' selector (stable across upgrades). */}}
{{- define "ensemw2s.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ensemw2s.operatorName" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* An image reference: repository@digest when a digest is set, else repository:tag (tag: the appVersion). */}}
{{- define "ensemw2s.image" -}}
{{- $image := index . 0 }}{{- $chart := index . 1 }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default $chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* The operator's --stage-defaults (env W2S_STAGE_DEFAULTS): the trainer image and stage resources of
experiments whose spec sets none. */}}
{{- define "ensemw2s.stageDefaults" -}}
{{- dict "image" (include "ensemw2s.image" (list .Values.trainerImage .Chart)) "weak" .Values.experimentDefaults.weak "strong" .Values.experimentDefaults.strong | toJson }}
{{- end }}

{{/* The operator's scope arguments: every namespace, or each watched one. */}}
{{- define "ensemw2s.scopeArgs" -}}
{{- if .Values.watchNamespaces }}
{{- range .Values.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
{{- else }}
- --all-namespaces
{{- end }}
{{- end }}
