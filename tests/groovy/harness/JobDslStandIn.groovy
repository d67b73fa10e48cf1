import groovy.xml.MarkupBuilder

/**
 * A small stand-in for the Job DSL plugin, enough to evaluate resources/dev/shipmark/carrier-jobs.groovy
 * outside Jenkins: it records the DSL calls the script makes and writes the config XML that the
 * Job DSL plugin and the Promoted Builds plugin's Job DSL extension would write for them.
 *
 * Only the DSL methods listed in {@link DslContext#METHODS} exist, per context, as in Job DSL; any
 * other call falls through to the script (closures are DELEGATE_FIRST, as Job DSL runs them) and
 * fails there if the script does not define it, so a typo in the DSL script fails the test.
 *
 * The XML follows the plugins' documented layouts: a Freestyle `project` with the promotion job
 * property listing `activeProcessNames`, and per process a `promotions/NAME/config.xml` rooted at
 * `hudson.plugins.promoted__builds.PromotionProcess` (XStream writes `_` as `__`) with the elements
 * the Job DSL extension writes (name, icon, assignedLabel, conditions, buildSteps, buildWrappers)
 * and condition fields as XStream serialises the condition classes.
 */
class JobDslStandIn {

    /** Job name -> recorded `freeStyleJob` call. */
    final Map<String, DslNode> jobs = [:]

    /** Evaluates a Job DSL script with the given additional parameters (the jobDsl step's additionalParameters). */
    void run(String scriptText, Map additionalParameters) {
        Binding binding = new Binding(new LinkedHashMap(additionalParameters))
        binding.setVariable('freeStyleJob', { String name, Closure body ->
            if (jobs.containsKey(name)) {
                throw new IllegalStateException("job ${name} defined twice")
            }
            DslNode job = new DslNode(name: 'freeStyleJob', args: [name])
            jobs[name] = job
            DslContext.runIn(job, body)
            job
        })
        new GroovyShell(getClass().classLoader, binding).evaluate(scriptText, 'carrier_jobs')
    }

    String projectXml(String jobName) {
        return JobXml.project(jobs[jobName])
    }

    /** Process name -> its config.xml, for the `promotions` of a job. */
    Map<String, String> promotionXml(String jobName) {
        return JobXml.promotions(jobs[jobName])
    }
}

/** One recorded DSL call: its method name, plain arguments and the calls made inside its closure. */
class DslNode {
    String name
    List args = []
    List<DslNode> children = []

    List<DslNode> all(String childName) {
        return children.findAll { it.name == childName }
    }

    DslNode first(String childName) {
        return children.find { it.name == childName }
    }

    Object arg(int index) {
        return args.size() > index ? args[index] : null
    }

    @Override
    String toString() {
        return "${name}(${args})${children ? children : ''}"
    }
}

/** The delegate of every DSL closure: records the calls Job DSL knows in this context. */
class DslContext {

    static final Map<String, List<String>> METHODS = [
        freeStyleJob      : ['description', 'label', 'logRotator', 'parameters', 'properties', 'steps', 'publishers', 'disabled'],
        logRotator        : ['numToKeep', 'daysToKeep', 'artifactNumToKeep', 'artifactDaysToKeep'],
        parameters        : ['stringParam', 'booleanParam'],
        properties        : ['promotions'],
        promotions        : ['promotion'],
        promotion         : ['name', 'icon', 'restrict', 'conditions', 'wrappers', 'actions'],
        conditions        : ['selfPromotion', 'parameterizedSelfPromotion', 'releaseBuild', 'downstream', 'upstream', 'manual'],
        wrappers          : ['credentialsBinding'],
        credentialsBinding: ['usernamePassword', 'string', 'file'],
        actions           : ['shell'],
        steps             : ['shell'],
        publishers        : ['fingerprint'],
    ]

    final DslNode node

    DslContext(DslNode node) {
        this.node = node
    }

    static void runIn(DslNode node, Closure body) {
        Closure copy = (Closure) body.clone()
        copy.delegate = new DslContext(node)
        copy.resolveStrategy = Closure.DELEGATE_FIRST
        copy.call()
    }

    def methodMissing(String method, Object rawArgs) {
        Object[] args = rawArgs instanceof Object[] ? (Object[]) rawArgs : [rawArgs] as Object[]
        if (!(METHODS[node.name] ?: []).contains(method)) {
            throw new MissingMethodException(method, DslContext, args)
        }
        Closure body = args && args[-1] instanceof Closure ? (Closure) args[-1] : null
        List plain = (body ? args.toList().subList(0, args.length - 1) : args.toList()).collect { it instanceof GString ? it.toString() : it }
        DslNode child = new DslNode(name: method, args: plain)
        node.children << child
        if (body != null) {
            runIn(child, body)
        }
        return child
    }
}

/** Writes config XML for recorded jobs in the layouts of Job DSL and the Promoted Builds plugin. */
class JobXml {

    static final String PROMOTION_PROCESS = 'hudson.plugins.promoted__builds.PromotionProcess'
    static final String CONDITIONS = 'hudson.plugins.promoted__builds.conditions.'

    static String project(DslNode job) {
        StringWriter out = new StringWriter()
        MarkupBuilder xml = new MarkupBuilder(out)
        DslNode rotator = job.first('logRotator')
        List<DslNode> parameters = job.first('parameters')?.children ?: []
        List<DslNode> processes = job.first('properties')?.first('promotions')?.all('promotion') ?: []
        DslNode label = job.first('label')
        xml.project {
            actions()
            description(job.first('description')?.arg(0) ?: '')
            keepDependencies(false)
            properties {
                if (rotator) {
                    'jenkins.model.BuildDiscarderProperty' {
                        strategy(class: 'hudson.tasks.LogRotator') {
                            daysToKeep(rotator.first('daysToKeep')?.arg(0) ?: -1)
                            numToKeep(rotator.first('numToKeep')?.arg(0) ?: -1)
                            artifactDaysToKeep(rotator.first('artifactDaysToKeep')?.arg(0) ?: -1)
                            artifactNumToKeep(rotator.first('artifactNumToKeep')?.arg(0) ?: -1)
                        }
                    }
                }
                if (parameters) {
                    'hudson.model.ParametersDefinitionProperty' {
                        parameterDefinitions {
                            parameters.each { DslNode p ->
                                if (p.name == 'stringParam') {
                                    'hudson.model.StringParameterDefinition' {
                                        name(p.arg(0))
                                        description(p.arg(2) ?: '')
                                        defaultValue(p.arg(1) ?: '')
                                        trim(false)
                                    }
                                } else {
                                    'hudson.model.BooleanParameterDefinition' {
                                        name(p.arg(0))
                                        description(p.arg(2) ?: '')
                                        defaultValue(p.arg(1) ?: false)
                                    }
                                }
                            }
                        }
                    }
                }
                if (processes) {
                    'hudson.plugins.promoted__builds.JobPropertyImpl' {
                        activeProcessNames {
                            processes.each { DslNode p -> string(p.first('name').arg(0)) }
                        }
                    }
                }
            }
            scm(class: 'hudson.scm.NullSCM')
            if (label) {
                assignedNode(label.arg(0))
            }
            canRoam(label == null)
            disabled(job.first('disabled')?.arg(0) ?: false)
            blockBuildWhenDownstreamBuilding(false)
            blockBuildWhenUpstreamBuilding(false)
            triggers()
            concurrentBuild(false)
            builders {
                (job.first('steps')?.all('shell') ?: []).each { DslNode s -> 'hudson.tasks.Shell' { command(s.arg(0)) } }
            }
            publishers {
                (job.first('publishers')?.all('fingerprint') ?: []).each { DslNode f ->
                    'hudson.tasks.Fingerprinter' {
                        targets(f.arg(0))
                        recordBuildArtifacts(f.arg(1) ?: false)
                    }
                }
            }
            buildWrappers()
        }
        return out.toString()
    }

    static Map<String, String> promotions(DslNode job) {
        Map<String, String> configs = [:]
        List<DslNode> processes = job.first('properties')?.first('promotions')?.all('promotion') ?: []
        processes.each { DslNode p -> configs[p.first('name').arg(0).toString()] = promotion(p) }
        return configs
    }

    static String promotion(DslNode p) {
        StringWriter out = new StringWriter()
        MarkupBuilder xml = new MarkupBuilder(out)
        xml."${PROMOTION_PROCESS}" {
            name(p.first('name').arg(0))
            if (p.first('icon')) {
                icon(p.first('icon').arg(0))
            }
            if (p.first('restrict')) {
                assignedLabel(p.first('restrict').arg(0))
            }
            conditions {
                (p.first('conditions')?.children ?: []).each { DslNode c -> condition(xml, c) }
            }
            buildSteps {
                (p.first('actions')?.all('shell') ?: []).each { DslNode s -> 'hudson.tasks.Shell' { command(s.arg(0)) } }
            }
            buildWrappers {
                (p.first('wrappers')?.all('credentialsBinding') ?: []).each { DslNode b ->
                    'org.jenkinsci.plugins.credentialsbinding.impl.SecretBuildWrapper' {
                        bindings {
                            b.all('usernamePassword').each { DslNode u ->
                                'org.jenkinsci.plugins.credentialsbinding.impl.UsernamePasswordMultiBinding' {
                                    credentialsId(u.arg(2))
                                    usernameVariable(u.arg(0))
                                    passwordVariable(u.arg(1))
                                }
                            }
                            b.all('file').each { DslNode f ->
                                'org.jenkinsci.plugins.credentialsbinding.impl.FileBinding' {
                                    credentialsId(f.arg(1))
                                    variable(f.arg(0))
                                }
                            }
                            b.all('string').each { DslNode s ->
                                'org.jenkinsci.plugins.credentialsbinding.impl.StringBinding' {
                                    credentialsId(s.arg(1))
                                    variable(s.arg(0))
                                }
                            }
                        }
                    }
                }
            }
        }
        return out.toString()
    }

    /** Conditions as the Promoted Builds Job DSL extension maps them, fields as XStream writes them. */
    private static void condition(MarkupBuilder xml, DslNode c) {
        switch (c.name) {
            case 'downstream':
                xml."${CONDITIONS}DownstreamPassCondition" {
                    jobs(c.arg(1))
                    evenIfUnstable(c.arg(0) ?: false)
                }
                break
            case 'manual':
                xml."${CONDITIONS}ManualCondition" {
                    users(c.arg(0))
                    parameterDefinitions()
                }
                break
            case 'upstream':
                xml."${CONDITIONS}UpstreamPromotionCondition" {
                    requiredPromotionNames(c.arg(0))
                }
                break
            case 'selfPromotion':
                xml."${CONDITIONS}SelfPromotionCondition" {
                    evenIfUnstable(c.arg(0) ?: false)
                }
                break
            default:
                throw new IllegalArgumentException("the stand-in does not write condition ${c.name}")
        }
    }
}
