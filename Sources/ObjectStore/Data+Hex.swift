import Foundation

extension Data {
    /// Bytes from lower- or upper-case hex digits (anything else skipped; an odd last digit ignored).
    public init(hexadecimal text: String) {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in text {
            guard let digit = character.hexDigitValue.map(UInt8.init) else { continue }
            if let first = high {
                bytes.append(first << 4 | digit)
                high = nil
            } else {
                high = digit
            }
        }
        self.init(bytes)
    }
}
