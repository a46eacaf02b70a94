/// The code of the README's table (e.g. 1002001 already logged in), whichever the case: every
/// case of the generated enum carries it, so `catch let error as RoomlinkError { error.code }`
/// works without a `switch`.
extension RoomlinkError {
    public var code: Int32 {
        switch self {
        case .InvalidArgument(let code, _), .InvalidState(let code, _), .Internal(let code, _): code
        }
    }
}
