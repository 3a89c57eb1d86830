import LibPQ
import Testing

@Suite("Names from configuration")
struct QualifiedNameTests {
    @Test("unquoted names fold to lower case, quoted ones keep their case", arguments: [
        ("processing_queue", nil, "processing_queue", #""processing_queue""#),
        ("App.Queue", "app", "queue", #""app"."queue""#),
        (#""My"."Queue""#, "My", "Queue", #""My"."Queue""#),
        (#""a""b".c"#, #"a"b"#, "c", #""a""b"."c""#),
        (#""dotted.name""#, nil, "dotted.name", #""dotted.name""#),
        ("_q$1.émile", "_q$1", "émile", #""_q$1"."émile""#),
    ] as [(String, String?, String, String)])
    func parses(input: String, schema: String?, name: String, quoted: String) throws {
        let parsed = try QualifiedName(parsing: input)
        #expect(parsed.schema == schema)
        #expect(parsed.name == name)
        #expect(parsed.quoted == quoted)
    }

    @Test("malformed names are refused", arguments: [
        "", "a..b", "a.b.c", #""open"#, #""a"b"#, ".a", String(repeating: "x", count: 64), "x; DROP TABLE y", "my queue",
        "1queue", "queue-1", "app.queue!", "$queue",
    ])
    func refuses(input: String) {
        #expect(throws: PostgresError.self) { try QualifiedName(parsing: input) }
    }

    @Test("literals double their quotes")
    func literals() {
        #expect(quoteLiteral("it's") == "'it''s'")
        #expect(quoteIdentifier(#"we"ird"#) == #""we""ird""#)
    }
}

@Suite("Metric labels name one table each")
struct UnambiguousNameTests {
    @Test("plain parts stay as they are; parts with dots, quotes, capitals or other letters are quoted, so no two tables share a label")
    func unambiguous() {
        #expect(QualifiedName(schema: "public", name: "processing_queue").unambiguous == "public.processing_queue")
        let first = QualifiedName(schema: "sch.ema", name: "we\"ird.Tåble")
        let second = QualifiedName(schema: "sch", name: "ema.we\"ird.Tåble")
        #expect(first.description == second.description)
        #expect(first.unambiguous == "\"sch.ema\".\"we\"\"ird.Tåble\"")
        #expect(second.unambiguous == "sch.\"ema.we\"\"ird.Tåble\"")
        #expect(first.unambiguous != second.unambiguous)
    }
}
