// Offline validation of every rendered object against the Kubernetes OpenAPI schemas, as shipped by
// the npm packages kubernetes-models (core API), @kubernetes-models/gateway-api (HTTPRoute) and
// @kubernetes-models/prometheus-operator (ServiceMonitor). Chosen over a PyPI or Go validator because
// `pnpm install` is all a fresh machine needs: no Python venv, no extra Go build.
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute'
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import type { K8sObject } from './helm.ts'

type Model = { validate(): void }
const MODELS: Record<string, new (data: never) => Model> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'gateway.networking.k8s.io/v1/HTTPRoute': HTTPRoute,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
}

/** Throws naming the object and the first schema violation; an unknown kind is an error too. */
export function validateObject(o: K8sObject): void {
  const key = `${o.apiVersion}/${o.kind}`
  const Model = MODELS[key]
  if (!Model) throw new Error(`${key} ${o.metadata.name}: no schema for this kind (add it to k8s-schemas.ts)`)
  try {
    new Model(o as never).validate()
  } catch (error) {
    throw new Error(`${key} ${o.metadata.name}: ${(error as Error).message}`)
  }
}
