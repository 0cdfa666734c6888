//! Properties: no input makes the lexer, parser or evaluator panic or overflow the stack.
