import dev.shipmark.ShipmarkArgs
import groovy.json.JsonSlurper
import org.junit.Test

import static org.junit.Assert.assertEquals

class ShipmarkArgsTests {

    @Test
    void options_are_single_name_equals_value_strings_and_positionals_follow_double_dash() {
        List argv = new ShipmarkArgs().option('to', 'stable').option('reason', '-x starts with a dash').positional('reg/app:1').toList()
        assertEquals(['--to=stable', '--reason=-x starts with a dash', '--', 'reg/app:1'], argv)
    }

    @Test
    void null_options_and_false_flags_are_left_out() {
        assertEquals(['--dry-run'], new ShipmarkArgs().option('policy', null).flag('force', false).flag('dry-run', true).toList())
    }

    @Test
    void list_options_repeat_and_a_string_counts_as_one() {
        assertEquals(['--junit=a', '--junit=b'], new ShipmarkArgs().options('junit', ['a', 'b']).toList())
        assertEquals(['--junit=r/*.xml'], new ShipmarkArgs().options('junit', 'r/*.xml').toList())
        assertEquals([], new ShipmarkArgs().options('junit', null).toList())
    }

    @Test
    void gstrings_become_plain_strings() {
        String tag = '1.0'
        List argv = new ShipmarkArgs().option('to', "chan-${tag}").positional("reg/app:${tag}").toList()
        assertEquals(['--to=chan-1.0', '--', 'reg/app:1.0'], argv)
        assertEquals([String, String, String], argv*.getClass())
    }

    @Test
    void the_json_array_carries_any_text_back_unchanged() {
        String nasty = "'; rm -rf / # \$(x) `y` \"q\" \\ \n\t caf\u00e9 \u2603"
        ShipmarkArgs args = new ShipmarkArgs().option('reason', nasty).positional(nasty)
        assertEquals(["--reason=${nasty}".toString(), '--', nasty], new JsonSlurper().parseText(args.toJson()))
    }
}
