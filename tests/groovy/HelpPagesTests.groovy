import org.junit.Test

import static org.junit.Assert.assertTrue
import static org.junit.Assert.fail

/** Every step has a plain-text help page that documents every key of its defaults map. */
class HelpPagesTests {

    static List<String> steps() {
        return new File(PipelineHarness.ROOT, 'vars').listFiles()*.name.findAll { it.endsWith('.groovy') }.collect { it - '.groovy' }.sort()
    }

    /** The step's own list of valid arguments, as its unknown-argument message gives it. */
    static List<String> validArguments(String step) {
        PipelineHarness h = new PipelineHarness()
        try {
            h.runStep(step, [notAnArgument__: true])
            fail("${step} accepted an unknown argument")
        } catch (PipelineError e) {
            def m = e.message =~ /valid arguments: (.*)$/
            assertTrue(e.message, m.find())
            return m.group(1).split(', ') as List<String>
        } finally {
            h.cleanup()
        }
        return []
    }

    @Test
    void every_step_has_a_help_page_with_the_sections() {
        assertTrue(steps().containsAll(['recordImage', 'markImage', 'promoteImage', 'rejectImage', 'stableImages', 'deployStable']))
        steps().each { String step ->
            File page = new File(PipelineHarness.ROOT, "vars/${step}.txt")
            assertTrue("missing ${page}", page.exists())
            String text = page.text
            assertTrue("${step}.txt must start with a '${step}: ...' summary line", text.readLines()[0] ==~ /${step}: \S.*/)
            ['Parameters', 'Returns', 'Fails when', 'Example'].each { String section ->
                assertTrue("${step}.txt has no '${section}' section", text.readLines().contains(section))
            }
            assertTrue("${step}.txt must be plain text, not HTML", !(text =~ /<\/?[a-z]+[ >]/).find())
        }
    }

    @Test
    void every_help_page_names_every_key_of_its_defaults_map() {
        steps().each { String step ->
            String text = new File(PipelineHarness.ROOT, "vars/${step}.txt").text
            String parameters = text.substring(text.indexOf('\nParameters\n'), text.indexOf('\nReturns\n'))
            validArguments(step).each { String key ->
                assertTrue("${step}.txt does not document '${key}' in Parameters", (parameters =~ /(?m)^ {2}${key}\s/).find())
            }
        }
    }

    @Test
    void help_pages_document_no_argument_the_step_does_not_take() {
        steps().each { String step ->
            String text = new File(PipelineHarness.ROOT, "vars/${step}.txt").text
            String parameters = text.substring(text.indexOf('\nParameters\n') + 12, text.indexOf('\nReturns\n'))
            List<String> documented = parameters.readLines().findAll { it ==~ /^ {2}[a-zA-Z]+\s.*/ }.collect { it.trim().split(/\s+/)[0] }
            List<String> valid = validArguments(step)
            documented.each { assertTrue("${step}.txt documents '${it}', which ${step} does not take", valid.contains(it)) }
        }
    }
}
