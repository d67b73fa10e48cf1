import com.lesfurets.jenkins.unit.global.lib.SourceRetriever

/**
 * The library as this checkout holds it, whatever name and version `@Library` asks for.
 * (JenkinsPipelineUnit's LocalSource wants a NAME@VERSION directory; a symlink to the checkout
 * would do, but a recursive delete of the temporary directory would then follow it.)
 */
class CheckoutSource implements SourceRetriever {

    final File root

    CheckoutSource(File root) {
        this.root = root
    }

    @Override
    List<URL> retrieve(String repository, String branch, String targetPath) {
        return [root.toURI().toURL()]
    }
}
