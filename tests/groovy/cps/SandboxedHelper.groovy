import com.cloudbees.groovy.cps.Continuation
import com.cloudbees.groovy.cps.CpsTransformer
import com.cloudbees.groovy.cps.Envs
import com.cloudbees.groovy.cps.Next
import com.cloudbees.groovy.cps.SandboxCpsTransformer
import com.cloudbees.groovy.cps.TransformerConfiguration
import com.cloudbees.groovy.cps.impl.CpsCallableInvocation
import com.cloudbees.groovy.cps.sandbox.SandboxInvoker
import com.lesfurets.jenkins.unit.cps.MockClosure
import com.lesfurets.jenkins.unit.cps.PipelineTestHelperCPS
import org.codehaus.groovy.control.customizers.CompilationCustomizer

/**
 * The CPS helper with the library compiled as a sandboxed (folder-level) library is: groovy-cps'
 * SandboxCpsTransformer instead of CpsTransformer, and programs run with a SandboxInvoker, so
 * every method call, property access and constructor of the Jenkinsfile, vars/ and src/ goes
 * through groovy-sandbox's Checker to the GroovyInterceptors registered on the thread, which is
 * where script-security decides on whitelist and blacklist.
 */
class SandboxedHelper extends PipelineTestHelperCPS {

    @Override
    PipelineTestHelperCPS init() {
        super.init()
        List<CompilationCustomizer> customizers = gse.config.compilationCustomizers
        customizers.removeAll { it.getClass() == CpsTransformer }
        SandboxCpsTransformer sandbox = new SandboxCpsTransformer()
        sandbox.setConfiguration(new TransformerConfiguration().withClosureType(MockClosure))
        customizers.add(sandbox)
        return this
    }

    @Override
    protected Object callMethod(MetaMethod method, Object delegate, Object[] args) {
        try {
            return method.doMethodInvoke(delegate, args)
        } catch (CpsCallableInvocation inv) {
            return runSandboxed(inv, false)
        }
    }

    @Override
    protected Object runScriptInternal(Script script) {
        try {
            return script.run()
        } catch (CpsCallableInvocation inv) {
            return runSandboxed(inv, false)
        }
    }

    @Override
    Object callClosure(Closure closure, Object[] args = null) {
        try {
            if (!args) {
                return closure.call()
            }
            return args.size() > closure.maximumNumberOfParameters ? closure.call(args) : closure.call(*args)
        } catch (CpsCallableInvocation inv) {
            return runSandboxed(inv, true)
        }
    }

    /** Runs a CPS program to its end with the sandbox invoker, checkpointing each step when asked. */
    private Object runSandboxed(CpsCallableInvocation inv, boolean checkpoint) {
        Next next = inv.invoke(Envs.empty(new SandboxInvoker()), null, Continuation.HALT)
        while (next.yield == null) {
            if (checkpoint) {
                roundtripSerialization(next.e)
            }
            next = next.step()
        }
        return next.yield.replay()
    }
}
