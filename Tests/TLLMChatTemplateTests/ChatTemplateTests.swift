// The Jinja subset behaves as Jinja does for what chat templates use, and refuses the rest by name.
import Testing
import TLLMChatTemplate

/// SmolLM2-135M-Instruct's template, exactly as stored in its GGUF file.
let smolLMTemplate = """
{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
"""

func render(_ source: String, _ context: [String: TemplateValue] = [:]) throws -> String {
    try ChatTemplate(source).render(context)
}

@Suite("Chat template rendering")
struct ChatTemplateTests {
    @Test("SmolLM2's template adds the default system prompt when the first message is not a system message")
    func smolLMDefaultSystemPrompt() throws {
        let t = try ChatTemplate(smolLMTemplate)
        let text = try t.render(messages: [ChatMessage(role: "user", content: "Hi")])
        #expect(text == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test("SmolLM2's template keeps a given system prompt and omits the generation prompt when asked")
    func smolLMOwnSystemPrompt() throws {
        let t = try ChatTemplate(smolLMTemplate)
        let text = try t.render(messages: [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi"),
                                           ChatMessage(role: "assistant", content: "Hello!")], addGenerationPrompt: false)
        #expect(text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n")
    }

    @Test("Variables, attribute and subscript access, and undefined names render as Jinja renders them")
    func variables() throws {
        #expect(try render("{{ a }}-{{ b.c }}-{{ b['c'] }}-{{ missing }}-{{ xs[1] }}-{{ xs[-1] }}",
                           ["a": "A", "b": ["c": 3], "xs": [1, 2, 3]]) == "A-3-3--2-3")
        #expect(try render("{{ none }} {{ true }} {{ 1.5 }} {{ 2.0 }} {{ [1, 'a'] }}") == "None True 1.5 2.0 [1, 'a']")
    }

    @Test("if / elif / else picks the first true branch")
    func ifElifElse() throws {
        let t = try ChatTemplate("{% if x > 2 %}big{% elif x == 2 %}two{% else %}small{% endif %}")
        #expect(try t.render(["x": 5]) == "big")
        #expect(try t.render(["x": 2]) == "two")
        #expect(try t.render(["x": 0]) == "small")
    }

    @Test("for loops expose loop.first, loop.last, loop.index, loop.index0 and loop.length")
    func loopVariables() throws {
        let out = try render("{% for x in xs %}{{ loop.index }}/{{ loop.length }}:{{ x }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}{{ loop.index0 }};{% endfor %}",
                             ["xs": ["a", "b", "c"]])
        #expect(out == "1/3:aF0;2/3:b1;3/3:cL2;")
    }

    @Test("for loops support else, filters, tuple unpacking over items(), break and continue")
    func loopForms() throws {
        #expect(try render("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty")
        #expect(try render("{% for x in [1,2,3,4] if x is even %}{{ x }}{% endfor %}") == "24")
        #expect(try render("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}", ["d": ["a": 1, "b": 2]]) == "a=1,b=2,")
        #expect(try render("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}") == "013")
    }

    @Test("String concatenation with + and ~, comparisons, in, and the ternary operator")
    func operators() throws {
        #expect(try render("{{ 'a' + 'b' ~ 1 }}") == "ab1")
        #expect(try render("{{ 'ell' in 'hello' }} {{ 2 in [1, 2] }} {{ 'k' not in {'k': 1} }}") == "True True False")
        #expect(try render("{{ 'yes' if 1 < 2 and not false else 'no' }}") == "yes")
        #expect(try render("{{ 7 // 2 }} {{ 7 % 3 }} {{ 1 + 2 * 3 }} {{ 7 / 2 }} {{ -3 }}") == "3 1 7 3.5 -3")
    }

    @Test("Filters such as trim, length, upper, default, join and tojson work")
    func filters() throws {
        #expect(try render("[{{ '  hi \\n' | trim }}]") == "[hi]")
        #expect(try render("{{ xs | length }} {{ 'ab' | upper }} {{ missing | default('d') }} {{ xs | join(', ') }}", ["xs": ["a", "b"]])
            == "2 AB d a, b")
        #expect(try render("{{ d | tojson }}", ["d": ["name": "x", "n": [1, 2], "ok": true, "none": nil]])
            == #"{"name": "x", "n": [1, 2], "ok": true, "none": null}"#)
        #expect(try render("{{ (msgs | selectattr('role', 'equalto', 'system') | list | length) }}",
                           ["msgs": [["role": "system"], ["role": "user"]]]) == "1")
    }

    @Test("Tests such as defined, none, string and mapping work, negated too")
    func tests() throws {
        #expect(try render("{{ x is defined }} {{ y is not defined }} {{ n is none }} {{ 's' is string }} {{ d is mapping }}",
                           ["x": 1, "n": nil, "d": ["a": 1]]) == "True True True True True")
    }

    @Test("String methods strip, startswith, split and replace work")
    func stringMethods() throws {
        #expect(try render("{{ ' a '.strip() }}|{{ 'abc'.startswith('ab') }}|{{ 'a,b'.split(',') }}|{{ 'aXa'.replace('X', '-') }}")
            == "a|True|['a', 'b']|a-a")
    }

    @Test("set assigns in the current scope; namespace carries values out of loops")
    func setAndNamespace() throws {
        #expect(try render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}") == "1")
        #expect(try render("{% set ns = namespace(n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}") == "6")
    }

    @Test("Whitespace control with - and trim_blocks/lstrip_blocks follows Hugging Face's settings")
    func whitespaceControl() throws {
        #expect(try render("a  {%- if true -%}  b  {%- endif -%}  c") == "abc")
        #expect(try render("{% if true %}\nx\n{% endif %}\ny") == "x\ny")
        #expect(try render("  {% if true %}x{% endif %}") == "x")
        #expect(try render("a {{- ' b ' -}} c") == "a b c")
    }

    @Test("Slices and negative indices behave as in Python")
    func slices() throws {
        #expect(try render("{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ 'hello'[1:3] }}", ["xs": [1, 2, 3]])
            == "[2, 3] [1, 2] [3, 2, 1] el")
    }

    @Test("raise_exception stops rendering with the template's own message")
    func raiseException() throws {
        let t = try ChatTemplate("{% if messages[0]['role'] == 'assistant' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok")
        #expect(throws: TemplateError(.raised, "Conversation must start with user", line: 1)) {
            try t.render(messages: [ChatMessage(role: "assistant", content: "x")])
        }
        #expect(try t.render(messages: [ChatMessage(role: "user", content: "x")]) == "ok")
    }

    @Test("Unsupported tags, filters and functions fail with a clear error naming them")
    func unsupported() throws {
        #expect { try ChatTemplate("{% macro m() %}x{% endmacro %}") } throws: { e in
            (e as? TemplateError)?.code == .unsupported && "\(e)".contains("macro")
        }
        #expect { try render("{{ x | wordwrap }}", ["x": "a"]) } throws: { e in
            (e as? TemplateError)?.code == .unsupported && "\(e)".contains("wordwrap")
        }
        #expect { try render("{{ strftime_now('%d') }}") } throws: { e in
            (e as? TemplateError)?.code == .unsupported && "\(e)".contains("strftime_now")
        }
    }

    @Test("Malformed templates fail with a syntax error naming the line")
    func syntaxErrors() throws {
        #expect { try ChatTemplate("line1\n{% if x %}never closed") } throws: { e in
            (e as? TemplateError)?.code == .syntax && (e as? TemplateError)?.line == 2
        }
        #expect { try ChatTemplate("{{ 'unterminated }}") } throws: { e in (e as? TemplateError)?.code == .syntax }
        #expect { try ChatTemplate("{{ a + }}") } throws: { e in (e as? TemplateError)?.code == .syntax }
        #expect { try ChatTemplate("{% endfor %}") } throws: { e in (e as? TemplateError)?.code == .syntax }
    }

    @Test("A Llama-3-style template with namespace, trim and a system-message split renders correctly")
    func llamaStyle() throws {
        let source = """
        {{- bos_token }}
        {%- if messages[0]['role'] == 'system' %}
            {%- set system_message = messages[0]['content']|trim %}
            {%- set messages = messages[1:] %}
        {%- else %}
            {%- set system_message = "" %}
        {%- endif %}
        {{- "<|start_header_id|>system<|end_header_id|>\\n\\n" + system_message + "<|eot_id|>" }}
        {%- for message in messages %}
            {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
        {%- endif %}
        """
        let t = try ChatTemplate(source)
        let out = try t.render(messages: [ChatMessage(role: "system", content: " Sys "), ChatMessage(role: "user", content: "Hi ")],
                               bosToken: "<BOS>")
        #expect(out == "<BOS><|start_header_id|>system<|end_header_id|>\n\nSys<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    }
}
