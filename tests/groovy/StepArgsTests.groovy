import dev.shipmark.StepArgs
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertNull
import static org.junit.Assert.assertTrue

class StepArgsTests {

    Map defaults = [image: null, to: null, dryRun: false, junit: [], approve: [:], outDir: 'shipmark']

    @Test
    void it_accepts_known_arguments() {
        assertNull(StepArgs.check(defaults, [image: 'r/a:1', to: 'stable', dryRun: true, junit: ['a.xml'], approve: [submitter: 'x']], 'promoteImage', ['image', 'to']))
    }

    @Test
    void it_accepts_no_arguments_when_nothing_is_required() {
        assertNull(StepArgs.check(defaults, [:], 'stableImages'))
        assertNull(StepArgs.check(defaults, null, 'stableImages'))
    }

    @Test
    void it_rejects_an_unknown_argument_and_lists_the_valid_ones() {
        assertEquals("promoteImage: unknown argument 'imgae'; valid arguments: image, to, dryRun, junit, approve, outDir",
            StepArgs.check(defaults, [imgae: 'r/a:1'], 'promoteImage'))
    }

    @Test
    void it_names_every_unknown_argument() {
        String message = StepArgs.check(defaults, [imgae: 1, dryrun: true], 'promoteImage')
        assertTrue(message, message.startsWith("promoteImage: unknown arguments 'imgae', 'dryrun';"))
    }

    @Test
    void it_requires_required_arguments() {
        assertEquals("promoteImage: the 'to' argument is required", StepArgs.check(defaults, [image: 'r/a:1'], 'promoteImage', ['image', 'to']))
        assertEquals("promoteImage: the 'image' argument is required", StepArgs.check(defaults, [image: '  ', to: 'x'], 'promoteImage', ['image', 'to']))
    }

    @Test
    void it_wants_true_or_false_for_a_boolean_default() {
        assertEquals("promoteImage: 'dryRun' must be true or false, got the string 'yes'", StepArgs.check(defaults, [dryRun: 'yes'], 'promoteImage'))
    }

    @Test
    void it_takes_a_string_or_a_list_of_strings_for_a_list_default() {
        assertNull(StepArgs.check(defaults, [junit: 'reports/*.xml'], 'markImage'))
        assertEquals("markImage: 'junit' must be a list of strings, got the number 3", StepArgs.check(defaults, [junit: 3], 'markImage'))
        assertEquals("markImage: 'junit' must be a list of strings, got a list", StepArgs.check(defaults, [junit: [1, 2]], 'markImage'))
    }

    @Test
    void it_wants_a_map_for_a_map_default_and_a_string_otherwise() {
        assertEquals("promoteImage: 'approve' must be a map, got the string 'alice'", StepArgs.check(defaults, [approve: 'alice'], 'promoteImage'))
        assertEquals("promoteImage: 'image' must be a string, got a list", StepArgs.check(defaults, [image: ['a']], 'promoteImage'))
        assertNull(StepArgs.check(defaults, [image: "r/${'a'}:1"], 'promoteImage'))
    }

    @Test
    void it_counts_blank_values_as_missing() {
        assertTrue(StepArgs.isBlank(null))
        assertTrue(StepArgs.isBlank(' '))
        assertTrue(StepArgs.isBlank([]))
        assertTrue(StepArgs.isBlank([:]))
        assertTrue(!StepArgs.isBlank('x'))
        assertTrue(!StepArgs.isBlank(false))
    }
}
