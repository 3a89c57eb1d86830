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

@Suite("A connection string libpq cannot parse is refused without quoting it")
struct ConninfoParseErrorTests {
    @Test("the password never appears in the parse error, and the place does", arguments: [
        ("postgresql://app:50%offSale@db/queue", "50%offSale", "in the password"),
        ("postgresql://app:bad%00pass@db/queue", "bad%00pass", "a %00 (a NUL byte)"),
        ("postgresql://app@db/queue?sslmode=require&password=x%zzsecret", "x%zzsecret", "query parameter password"),
        ("password=hunter2 topsecretword host=db", "topsecretword", "after the value of password"),
        ("host=db password='hunter22 xyzzy", "hunter22 xyzzy", "quoted value of password"),
    ])
    func hidesTheToken(conninfo: String, secret: String, place: String) throws {
        let message = try #require(Conninfo.parseError(conninfo))
        #expect(!message.contains(secret), "\(message)")
        for piece in secret.split(whereSeparator: { !$0.isLetter && !$0.isNumber }) where piece.count >= 4 {
            #expect(!message.contains(piece), "\(message)")
        }
        #expect(message.contains(place), "\(message)")
        #expect(message.contains("not valid"), "\(message)")
    }

    @Test("a string that parses has no parse error")
    func parses() {
        #expect(Conninfo.parseError("postgresql://app:s3cret@db/queue") == nil)
        #expect(Conninfo.parseError("host=db password='a b'") == nil)
    }
}
