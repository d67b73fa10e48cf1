import org.codehaus.groovy.reflection.CachedClass
import org.codehaus.groovy.runtime.InvokerHelper
import org.kohsuke.groovy.sandbox.GroovyInterceptor

/**
 * The entries of script-security's default blacklist
 * (src/main/resources/org/jenkinsci/plugins/scriptsecurity/sandbox/whitelists/blacklist in
 * jenkinsci/script-security-plugin) that code like this library could plausibly reach, in that
 * file's own notation, and a GroovyInterceptor that records every call the sandboxed library
 * makes and says which of them match an entry. A blacklisted call makes a folder-level library
 * fail, and approving it is flagged as dangerous.
 */
class ScriptSecurityBlacklist extends GroovyInterceptor {

    static final List<String> SIGNATURES = [
        // SECURITY-538
        'staticMethod groovy.json.JsonOutput toJson groovy.lang.Closure',
        'staticMethod groovy.json.JsonOutput toJson java.lang.Object',
        'staticMethod org.codehaus.groovy.runtime.DefaultGroovyMethods getAt java.lang.Object java.lang.String',
        'staticMethod org.codehaus.groovy.runtime.DefaultGroovyMethods getMetaPropertyValues java.lang.Object',
        'staticMethod org.codehaus.groovy.runtime.DefaultGroovyMethods getProperties java.lang.Object',
        'staticMethod org.codehaus.groovy.runtime.DefaultGroovyMethods putAt java.lang.Object java.lang.String java.lang.Object',
        // Reflective access to Groovy
        'method groovy.lang.GroovyObject getMetaClass',
        'method groovy.lang.GroovyObject getProperty java.lang.String',
        'method groovy.lang.GroovyObject invokeMethod java.lang.String java.lang.Object',
        'method groovy.lang.GroovyObject setMetaClass groovy.lang.MetaClass',
        'method groovy.lang.GroovyObject setProperty java.lang.String java.lang.Object',
        // Raw files, processes, environment
        'new java.io.File java.lang.String',
        'new java.io.File java.lang.String java.lang.String',
        'staticMethod java.io.File createTempFile java.lang.String java.lang.String',
        'staticMethod java.lang.Runtime getRuntime',
        'staticMethod java.lang.System getenv',
        'staticMethod java.lang.System getenv java.lang.String',
        'staticMethod java.lang.System getProperty java.lang.String',
        'staticMethod java.lang.System nanoTime',
        'staticMethod org.codehaus.groovy.runtime.DefaultGroovyMethods execute java.lang.String',
        'staticMethod org.codehaus.groovy.runtime.DefaultGroovyMethods execute java.util.List',
        // Jenkins internals
        'staticMethod jenkins.model.Jenkins getInstance',
        'staticMethod hudson.model.Hudson getInstance',
        'method org.jenkinsci.plugins.workflow.support.steps.build.RunWrapper getRawBuild',
        // Reflection
        'method java.lang.Class getDeclaredMethods',
        'method java.lang.Class newInstance',
    ]

    static final String DGM = 'org.codehaus.groovy.runtime.DefaultGroovyMethods'

    /** [kind: method | staticMethod | new, receiver: Object or Class, name:, args: [Class]] */
    final List<Map> calls = Collections.synchronizedList([])

    @Override
    Object onMethodCall(GroovyInterceptor.Invoker invoker, Object receiver, String method, Object... args) {
        calls << [kind: 'method', receiver: receiver, name: method, args: classes(args)]
        return super.onMethodCall(invoker, receiver, method, args)
    }

    @Override
    Object onStaticCall(GroovyInterceptor.Invoker invoker, Class receiver, String method, Object... args) {
        calls << [kind: 'staticMethod', receiver: receiver, name: method, args: classes(args)]
        return super.onStaticCall(invoker, receiver, method, args)
    }

    @Override
    Object onNewInstance(GroovyInterceptor.Invoker invoker, Class receiver, Object... args) {
        calls << [kind: 'new', receiver: receiver, name: '<init>', args: classes(args)]
        return super.onNewInstance(invoker, receiver, args)
    }

    private static List<Class> classes(Object[] args) {
        return (args ?: []).collect { it == null ? Object : it.getClass() }
    }

    /** "signature <- receiver.name(args)" for every recorded call that a blacklist entry names. */
    List<String> violations() {
        List<String> found = []
        for (Map call : new ArrayList<Map>(calls)) {
            for (String signature : SIGNATURES) {
                if (matches(signature, call)) {
                    String receiver = call.receiver instanceof Class ? ((Class) call.receiver).name : call.receiver?.getClass()?.name
                    found << "${signature} <- ${receiver}.${call.name}(${call.args*.simpleName.join(', ')})".toString()
                }
            }
        }
        return found.unique()
    }

    static boolean matches(String signature, Map call) {
        List<String> words = signature.tokenize(' ')
        String kind = words[0]
        String owner = words[1]
        if (kind == 'new') {
            return call.kind == 'new' && ((Class) call.receiver).name == owner && assignable(words.drop(2), call.args)
        }
        String name = words[2]
        List<String> params = words.drop(3)
        if (call.name != name) {
            return false
        }
        if (kind == 'staticMethod' && owner == DGM) {
            // A DefaultGroovyMethods entry names the method Groovy picks for `receiver.name(args)`.
            return call.kind == 'method' && picksGroovyMethod(call.receiver, name, call.args, params)
        }
        if (kind == 'staticMethod') {
            return call.kind == 'staticMethod' && picks(InvokerHelper.getMetaClass((Class) call.receiver), name, call.args, owner, params)
        }
        if (owner == 'groovy.lang.GroovyObject' && call.receiver instanceof Script) {
            // Jenkins' CpsWhitelist permits these on pipeline scripts (CpsScript): a Jenkinsfile's
            // or a vars/ step's own methods and global variables are reached through them.
            return false
        }
        return call.kind == 'method' && picks(InvokerHelper.getMetaClass(call.receiver), name, call.args, owner, params)
    }

    /**
     * Whether the method Groovy selects for these arguments (the most specific overload, as
     * script-security resolves it) is the entry's: declared by owner or a subtype, same parameters.
     */
    private static boolean picks(MetaClass metaClass, String name, List<Class> args, String owner, List<String> params) {
        MetaMethod picked = metaClass.pickMethod(name, args as Class[])
        return picked != null && isA(picked.declaringClass.theClass, owner) && picked.nativeParameterTypes*.name == params
    }

    private static boolean picksGroovyMethod(Object receiver, String name, List<Class> args, List<String> params) {
        MetaMethod picked = InvokerHelper.getMetaClass(receiver).pickMethod(name, args as Class[])
        if (picked == null || !picked.getClass().name.startsWith('org.codehaus.groovy.runtime.dgm')) {
            return false
        }
        CachedClass self = picked.declaringClass
        return self.theClass.name == params[0] && picked.nativeParameterTypes*.name == params.drop(1)
    }

    private static boolean assignable(List<String> params, List<Class> args) {
        if (params.size() != args.size()) {
            return false
        }
        for (int i = 0; i < params.size(); i++) {
            if (!isA(args[i], params[i])) {
                return false
            }
        }
        return true
    }

    /** Whether type is, extends or implements the class named name (which need not be on the class path). */
    private static boolean isA(Class type, String name) {
        if (type == null) {
            return false
        }
        if (type.name == name || name == 'java.lang.Object') {
            return true
        }
        return (type.superclass && isA(type.superclass, name)) || type.interfaces.any { isA(it, name) }
    }
}
