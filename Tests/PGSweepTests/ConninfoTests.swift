import LibPQ
import Testing

@Suite("Connection strings are printed without passwords")
struct ConninfoTests {
    @Test("passwords are masked in every form", arguments: [
        ("host=db password=s3cret user=x", "host=db password=**** user=x"),
        ("host=db password = 's3 cr\\'et' user=x", "host=db password=**** user=x"),
        ("postgresql://app:s3cret@db:5432/queue", "postgresql://app:****@db:5432/queue"),
        ("postgres://app:s3cret@db/queue?sslmode=require&password=other", "postgres://app:****@db/queue?sslmode=require&password=****"),
        ("postgresql://app@db/queue", "postgresql://app@db/queue"),
    ])
    func masks(input: String, expected: String) {
        #expect(Conninfo.redacted(input) == expected)
    }

    @Test("libpq parses both forms")
    func parses() {
        #expect(Conninfo.parse("host=db password=x")?["password"] == "x")
        #expect(Conninfo.parse("postgresql://u:p@h/d")?["password"] == "p")
        #expect(Conninfo.parse("host='unterminated") == nil)
    }
}
