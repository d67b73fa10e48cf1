/**
 * Runs the Declarative pipelines of examples/ outside Jenkins, as the pipeline-model-definition
 * plugin runs them for the parts the examples use: `pipeline` with `agent` (any, none, label),
 * `parameters`, `triggers`, `options`, `environment`, `stages` of `stage`s with `agent`, `input`,
 * `when { expression }`, `environment`, `steps` (and `script`), and `post` (always, success,
 * failure) at both levels.
 *
 * What matters for the library: a stage's `agent` becomes a `node` around that stage only, a
 * stage's `input` is asked before its agent is allocated (so with `agent none` at the top it
 * holds no executor), `environment` and the input's submitterParameter reach the steps through
 * `withEnv`. Directive blocks are closures resolved against a context first, as Declarative's
 * own parser does; `steps` bodies resolve against the Jenkinsfile, so library steps and pipeline
 * steps are found as in a scripted pipeline.
 *
 * Steps are called through {@link #steps}: name -> closure taking the step's arguments, and
 * {@link #runBody} runs a user closure (the plain harness calls it; a CPS harness hands it to its
 * interpreter).
 */
class DeclarativeStandIn {

    /** node(label, body), withEnv(list, body), input(map), error(message): the pipeline steps the model calls. */
    final Map<String, Closure> steps
    final Closure runBody
    /** (section, block) -> runs a directive block so that its calls reach SectionContext(section). */
    final Closure readBlock

    DeclarativeStandIn(Map<String, Closure> steps, Closure runBody, Closure readBlock = DELEGATING) {
        this.steps = steps
        this.runBody = runBody
        this.readBlock = readBlock
    }

    /** Plain Groovy: the block's calls go to its delegate. */
    static final Closure DELEGATING = { Section section, Closure block ->
        Closure copy = (Closure) block.clone()
        copy.delegate = new SectionContext(section, null)
        copy.resolveStrategy = Closure.DELEGATE_ONLY
        copy.call()
    }

    void run(Closure pipeline) {
        Section top = Section.read('pipeline', pipeline, [], readBlock)
        List stages = top.first('stages')?.children?.findAll { it.name == 'stage' } ?: []
        List<String> env = environment(top)
        Closure all = {
            Throwable failure = null
            try {
                for (Section stage : stages) {
                    runStage(stage)
                }
            } catch (Throwable e) {
                failure = e
            }
            runPost(top, failure)
            if (failure != null) {
                throw failure
            }
        }
        Closure withAgent = agentOf(top) == null ? all : { steps.node.call(agentOf(top), all) }
        env ? steps.withEnv.call(env, withAgent) : withAgent.call()
    }

    private void runStage(Section stage) {
        Section when = stage.first('when')
        if (when?.first('expression') && !runBody.call(inScript(when.first('expression').body))) {
            return
        }
        List<String> env = environment(stage)
        Section input = stage.first('input')
        if (input != null) {
            Map question = input.values()
            String parameter = question.submitterParameter
            Object answer = steps.input.call(question)
            if (parameter) {
                env << "${parameter}=${answer instanceof Map ? answer[parameter] : answer}".toString()
            }
        }
        Closure body = {
            Throwable failure = null
            try {
                Section stepsBlock = stage.first('steps')
                if (stepsBlock == null) {
                    steps.error.call("stage ${stage.args[0]} has no steps")
                }
                runBody.call(inScript(stepsBlock.body))
            } catch (Throwable e) {
                failure = e
            }
            runPost(stage, failure)
            if (failure != null) {
                throw failure
            }
        }
        Closure inStage = { steps.stage.call(stage.args[0], body) }
        Closure withAgent = agentOf(stage) == null ? inStage : { steps.node.call(agentOf(stage), inStage) }
        env ? steps.withEnv.call(env, withAgent) : withAgent.call()
    }

    private void runPost(Section section, Throwable failure) {
        Section post = section.first('post')
        if (post == null) {
            return
        }
        for (Section condition : post.children) {
            boolean applies = condition.name == 'always' || (condition.name == 'success' && failure == null) ||
                (condition.name == 'failure' && failure != null)
            if (applies) {
                runBody.call(inScript(condition.body))
            }
        }
    }

    /**
     * A steps body resolves names against the Jenkinsfile (its outermost owner), not against the
     * directive blocks it was written in.
     */
    private static Closure inScript(Closure body) {
        Object root = body
        while (root instanceof Closure) {
            root = ((Closure) root).owner
        }
        Closure copy = (Closure) body.clone()
        copy.delegate = root
        copy.resolveStrategy = Closure.DELEGATE_FIRST
        return copy
    }

    /** The node label of an `agent` directive: '' for any, null for none or no agent. */
    private static String agentOf(Section section) {
        Section agent = section.first('agent')
        if (agent == null || agent.args == ['none']) {
            return null
        }
        if (agent.args == ['any']) {
            return ''
        }
        Section label = agent.first('label')
        return label ? label.args[0].toString() : ''
    }

    private static List<String> environment(Section section) {
        Section env = section.first('environment')
        return env ? env.assignments.collect { k, v -> "${k}=${v}".toString() } : []
    }
}

/** One directive as written: its name, plain arguments, nested directives, and its closure. */
class Section {

    /** Directives whose closure holds nested directives (the rest hold steps or expressions). */
    static final List<String> NESTED = ['pipeline', 'agent', 'stages', 'stage', 'post', 'when', 'input', 'environment',
                                        'options', 'parameters', 'triggers']

    String name
    List args = []
    Closure body
    List<Section> children = []
    Map<String, Object> assignments = [:]

    static Section read(String name, Closure body, List args, Closure readBlock) {
        Section section = new Section(name: name, args: args, body: body)
        if (NESTED.contains(name) && body != null) {
            readBlock.call(section, body)
        }
        return section
    }

    Section first(String childName) {
        return children.find { it.name == childName }
    }

    /** `message 'x'; submitter 'y'` -> [message: 'x', submitter: 'y']. */
    Map values() {
        return children.collectEntries { [(it.name): it.args ? it.args[0] : null] }
    }
}

/**
 * Where the calls of a directive block go: every call is a nested directive, bare names are
 * values. Plain Groovy makes it the block's delegate; an interpreter that ignores delegates (CPS)
 * routes the calls here itself.
 */
class SectionContext {
    final Section section
    final Closure readBlock

    SectionContext(Section section, Closure readBlock) {
        this.section = section
        this.readBlock = readBlock ?: DeclarativeStandIn.DELEGATING
    }

    def methodMissing(String method, Object rawArgs) {
        Object[] args = rawArgs instanceof Object[] ? (Object[]) rawArgs : [rawArgs] as Object[]
        return directive(method, args.toList())
    }

    Section directive(String method, List args) {
        Closure body = args && args[-1] instanceof Closure ? (Closure) args[-1] : null
        List plain = (body ? args.subList(0, args.size() - 1) : args).collect { it instanceof GString ? it.toString() : it }
        Section child = Section.read(method, body, plain, readBlock)
        section.children << child
        return child
    }

    def propertyMissing(String name) {
        return name            // `agent any`, `agent none`
    }

    def propertyMissing(String name, Object value) {
        section.assignments[name] = value instanceof GString ? value.toString() : value
    }
}
