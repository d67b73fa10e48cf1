// Job DSL script: Promoted Builds carrier jobs for shipmark (run it from a seed job, see
// examples/carrier-seed/Jenkinsfile, which passes `shipmarkServices` as an additional parameter).
//
// Promoted Builds works only on Freestyle jobs, so per service this creates:
//
//   <name>-carrier             Freestyle job with a string parameter IMAGE (repo@sha256:...).
//                              The service pipeline triggers one build per image. It writes IMAGE
//                              to shipmark-image.txt and fingerprints it. Its promotion processes:
//       qa-passed   automatic: when <name>-acceptance-passed succeeds for the same image
//                   (DownstreamPassCondition); runs `shipmark promote --from-promotion --to qa-passed`
//       stable      manual: approvers only, and only after qa-passed (ManualCondition +
//                   UpstreamPromotionCondition); runs `shipmark promote --from-promotion --to stable`
//                   and keeps this carrier build and the producing build forever (needs
//                   jenkinsCredentialsId), so log rotation never deletes a promoted image's build
//
//   <name>-acceptance-passed   Freestyle relay job with the same IMAGE parameter. The acceptance
//                              pipeline triggers it when it passes. DownstreamPassCondition only
//                              watches Freestyle-type jobs, never Pipeline jobs, so the acceptance
//                              Pipeline cannot be watched directly. The relay fingerprints the same
//                              shipmark-image.txt, which links it to the carrier build of that image.
//
// The policy: a promotion runs in the carrier's workspace, which holds only shipmark-image.txt, so
// by default the helper uses the policy published in the image's repository (`shipmark policy
// publish`) and fails (exit 2) when there is none: a promotion never happens without a policy.
// `policy` names a file that is on the agents instead (an absolute path); it is part of the
// promotion step itself, not a build parameter, so nobody who can start a build can change it.
//
// Who may approve: the users and groups in `approvers` (they need no Promotion/Promote
// permission), and administrators; nobody else, whatever their Promotion/Promote permission.
//
// Each entry of shipmarkServices is a map:
//   name                  service name (required); job names start with it
//   approvers             who may approve `stable`: comma-separated user or group names (required)
//   credentialsId         Jenkins username/password credentials for the registry (optional)
//   jenkinsCredentialsId  Jenkins user + API token, so the helper can describe and keep builds (optional;
//                         without it promoted carrier builds are left to log rotation)
//   signingKeyCredentialsId  Jenkins secret file credentials with the key that signs promotion records (optional)
//   policy                policy file on the agents, e.g. /etc/shipmark/app.yaml (optional; default: the
//                         policy published in the registry)
//   label                 agent label for the jobs and promotions (optional)
//   qaChannel             channel for the automatic promotion (default 'qa-passed')
//   stableChannel         channel for the manual promotion (default 'stable')
//   buildsToKeep          carrier builds to keep; promoted ones are kept by the helper (default 200)
//
// The promotion steps run "${SHIPMARK:-shipmark}": install the helper on the agents (or point
// SHIPMARK at it, e.g. the virtualenv run-shipmark.sh made). The approver (PROMOTED_USER_ID) is
// recorded as the actor. Only checked values enter a shell script: channel names and the policy
// path (letters, digits, '.', '_', '-', '/'); credentials are bound by the Credentials Binding wrapper.
//
// Sandbox: the script reads its services from the `shipmarkServices` variable by name (no
// the Binding's variable map, which script-security does not whitelist), so the jobDsl step can run it
// with `sandbox: true`; the seed job's user then needs Job/Configure on the jobs it creates.

def validKeys = ['name', 'approvers', 'credentialsId', 'jenkinsCredentialsId', 'signingKeyCredentialsId', 'policy', 'label',
                 'qaChannel', 'stableChannel', 'buildsToKeep']
def safeName = ~/^[A-Za-z0-9][A-Za-z0-9._-]*$/
def safePath = ~/^[A-Za-z0-9._\/-]+$/

def services
try {
    services = shipmarkServices
} catch (MissingPropertyException ignored) {
    services = null
}
if (!(services instanceof List) || services.isEmpty()) {
    throw new IllegalArgumentException('carrier-jobs: pass shipmarkServices, a list of maps such as ' +
        "[[name: 'app', approvers: 'release-managers']], as an additional parameter of the jobDsl step")
}

def imageStep = '''#!/bin/bash
set -euo pipefail
: "${IMAGE:?IMAGE is not set: pass the image as repo@sha256:<digest>}"
case "$IMAGE" in
    *@sha256:*) ;;
    *) echo "IMAGE must be a digest reference repo@sha256:<64 hex digits>, got: $IMAGE" >&2; exit 2 ;;
esac
printf '%s\\n' "$IMAGE" > shipmark-image.txt
'''

// channel, keep and policy are checked against safeName / safePath before they get here.
def promoteStep = { String channel, String keep, String policy ->
    '''#!/bin/bash
set -euo pipefail
: "${IMAGE:?IMAGE is not set: this promotion belongs to a shipmark carrier build}"
if [ -n "${PROMOTED_USER_ID:-}" ] && [ "$PROMOTED_USER_ID" != unknown ]; then
    export SHIPMARK_BY="$PROMOTED_USER_ID via ${BUILD_URL:-a promotion}"
fi
"${SHIPMARK:-shipmark}" promote --from-promotion --to ''' + channel + ' --keep-build-for ' + keep +
        (policy ? " --policy ${policy}" : '') + ''' --json
'''
}

services.each { Map service ->
    def unknown = service.keySet().findAll { !(it in validKeys) }
    if (unknown) {
        throw new IllegalArgumentException("carrier-jobs: unknown key(s) ${unknown.join(', ')} in service " +
            "${service.name}; valid keys: ${validKeys.join(', ')}")
    }
    ['name', 'approvers'].each { key ->
        if (!service[key]?.toString()?.trim()) {
            throw new IllegalArgumentException("carrier-jobs: service ${service.name ?: service} needs '${key}'")
        }
    }
    String serviceName = service.name
    String qaChannel = service.qaChannel ?: 'qa-passed'
    String stableChannel = service.stableChannel ?: 'stable'
    [serviceName, qaChannel, stableChannel].each { value ->
        if (!(value ==~ safeName)) {
            throw new IllegalArgumentException("carrier-jobs: '${value}' may contain only letters, digits, '.', '_' and '-'")
        }
    }
    String policy = service.policy ? service.policy.toString() : null
    if (policy && !(policy ==~ safePath)) {
        throw new IllegalArgumentException("carrier-jobs: policy '${policy}' may contain only letters, digits, '.', '_', '-' and '/'")
    }
    String carrier = "${serviceName}-carrier"
    String relay = "${serviceName}-acceptance-passed"
    int keep = (service.buildsToKeep ?: 200) as int

    // Both jobs: where they run, how many builds they keep, the IMAGE parameter, the fingerprint.
    def carrierBasics = { job ->
        if (service.label) {
            job.label(service.label.toString())
        }
        job.logRotator {
            numToKeep(keep)
        }
        job.parameters {
            stringParam('IMAGE', '', 'Image this build stands for: repo@sha256:<digest>.')
        }
        job.steps {
            shell(imageStep)
        }
        job.publishers {
            fingerprint('shipmark-image.txt')
        }
    }
    // Both promotions: where they run and the credentials the helper reads.
    def promotionBasics = { promotion ->
        if (service.label) {
            promotion.restrict(service.label.toString())
        }
        if (service.credentialsId || service.jenkinsCredentialsId || service.signingKeyCredentialsId) {
            promotion.wrappers {
                credentialsBinding {
                    if (service.credentialsId) {
                        usernamePassword('SHIPMARK_REGISTRY_USERNAME', 'SHIPMARK_REGISTRY_PASSWORD', service.credentialsId.toString())
                    }
                    if (service.jenkinsCredentialsId) {
                        usernamePassword('JENKINS_USER', 'JENKINS_API_TOKEN', service.jenkinsCredentialsId.toString())
                    }
                    if (service.signingKeyCredentialsId) {
                        file('SHIPMARK_SIGNING_KEY', service.signingKeyCredentialsId.toString())
                    }
                }
            }
        }
    }

    freeStyleJob(carrier) {
        description("Carries the images of ${serviceName}: one build per image, promoted by shipmark. " +
            'Generated by carrier-jobs.groovy: change the seed, not this job.')
        carrierBasics(delegate)
        properties {
            promotions {
                promotion {
                    name(qaChannel)
                    icon('star-silver')
                    conditions {
                        downstream(false, relay)
                    }
                    promotionBasics(delegate)
                    actions {
                        shell(promoteStep(qaChannel, stableChannel, policy))
                    }
                }
                promotion {
                    name(stableChannel)
                    icon('star-gold')
                    conditions {
                        manual(service.approvers.toString())
                        upstream(qaChannel)
                    }
                    promotionBasics(delegate)
                    actions {
                        shell(promoteStep(stableChannel, stableChannel, policy))
                    }
                }
            }
        }
    }

    freeStyleJob(relay) {
        description("Run by the ${serviceName} acceptance pipeline when it passes, for the image it tested; " +
            "promotes that image's ${carrier} build to ${qaChannel}. Generated by carrier-jobs.groovy.")
        carrierBasics(delegate)
    }
}
