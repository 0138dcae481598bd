#!/usr/bin/env bash
# Deploy one image to the current kubectl context and namespace:
#   infra/k8s/deploy.sh registry.example.cn/mashang:<tag>
# Order: ConfigMap + media PVC -> migrate Job (must succeed; old pods keep serving meanwhile)
#        -> web, worker, beat -> Ingress -> wait for the rollouts.
# The Secret (mashang-secrets) must exist already: see secret.example.yaml.
set -euo pipefail
image=${1:?usage: deploy.sh IMAGE (e.g. registry.example.cn/mashang:abc1234)}
here=$(cd "$(dirname "$0")" && pwd)
render() { sed "s|MASHANG_IMAGE|$image|g" "$here/$1"; }

kubectl get secret mashang-secrets >/dev/null \
  || { echo "deploy: Secret mashang-secrets is missing (see secret.example.yaml)" >&2; exit 1; }
kubectl apply -f "$here/configmap.yaml" -f "$here/media-pvc.yaml"

echo "deploy: migrating with $image"
kubectl delete job mashang-migrate --ignore-not-found --wait=true
render migrate-job.yaml | kubectl apply -f -
while true; do
  done_=$(kubectl get job mashang-migrate -o jsonpath='{.status.conditions[?(@.type=="Complete")].status}')
  failed=$(kubectl get job mashang-migrate -o jsonpath='{.status.conditions[?(@.type=="Failed")].status}')
  [[ $done_ == True ]] && break
  if [[ $failed == True ]]; then
    kubectl logs job/mashang-migrate --tail=100 >&2 || true
    echo "deploy: migration FAILED; nothing else was changed (the old version keeps running)" >&2
    exit 1
  fi
  sleep 5
done
echo "deploy: migrations done"

for f in web.yaml worker.yaml beat.yaml; do render "$f" | kubectl apply -f -; done
kubectl apply -f "$here/ingress.yaml"
kubectl rollout status deployment/mashang-web --timeout=10m
kubectl rollout status deployment/mashang-beat --timeout=5m
kubectl rollout status deployment/mashang-worker --timeout=15m
echo "deploy: $image is live"
